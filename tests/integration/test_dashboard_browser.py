"""`ticketops dashboard` in headless Chromium: the classifier's project shows every panel with data.

Six monitor windows (steady, then a surge, then new intents; versions 3 then 4) are checked with the real drift
check and stored in a fresh workspace; the browser opens the project's dashboard, waits for every panel title
and for the plots to draw, and saves a screenshot (`make screenshots`: docs/img/dashboard.png, in the README).
"""

from __future__ import annotations

import os
import shutil
import sys
import time
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import pytest

from tests.helpers.drift_model import shared_drift_model, shared_reference
from tests.helpers.screenshots import screenshot_path
from ticketops.config import load_params
from ticketops.monitoring.check import check_drift
from ticketops.monitoring.dashboard import PANEL_TITLES, add_window, ensure_project, open_workspace
from ticketops.monitoring.windows import Window, scored_window, with_embeddings
from ticketops.processes import ManagedProcess, free_port
from ticketops.simulation.scenarios import scenario_window

pytestmark = pytest.mark.integration
CHROMIUM, CHROMEDRIVER = "/usr/bin/chromium", "/usr/bin/chromedriver"
WINDOWS = [("steady", "3"), ("steady", "3"), ("steady", "4"), ("surge", "4"), ("surge", "4"), ("new-intent", "4")]


def fill_workspace(path: Path) -> str:
    """Check six windows and store their snapshots, an hour apart; returns the project id."""
    model = shared_drift_model()
    loaded = shared_reference()
    # The monitor's reference carries the champion's registry version; a package folder has none, so say v3.
    reference = replace(loaded, window=Window(loaded.window.frame.assign(model_version="3"), loaded.window.embeddings))
    params = load_params()
    workspace = open_workspace(path)
    project = ensure_project(workspace, "ticket-classifier")
    rng = np.random.default_rng(0)
    start = datetime(2026, 11, 20, 8, tzinfo=UTC)
    for hour, (scenario, version) in enumerate(WINDOWS):
        frame = scenario_window(model.pool, scenario, 200, rng, params.scenarios, mixture=0.4)
        frame = frame.assign(label=np.where(rng.random(len(frame)) < 0.6, frame["label"], ""))
        window = scored_window(frame, reference.score, version)
        window = with_embeddings(Window(window.frame.assign(model_version=version)), reference.embedder)
        stamp = start + timedelta(hours=hour)
        result = check_drift(reference.window, window, params.monitor, timestamp=stamp, tags=[scenario])
        add_window(workspace, project, result.snapshot, name=f"{stamp:%Y-%m-%d %H:%M} {scenario}")
    return str(project.id)


def browser():
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    profile = Path(os.environ.get("TMPDIR", "/tmp")) / f"chromium-profile-{os.getpid()}-{time.time_ns()}"
    for flag in (
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--no-first-run",
        "--disable-dev-shm-usage",
        f"--user-data-dir={profile}",
        "--window-size=1600,2600",
    ):
        options.add_argument(flag)
    driver = webdriver.Chrome(service=Service(CHROMEDRIVER), options=options)
    return driver, profile


def test_dashboard_renders_every_panel(tmp_path):
    if not (Path(CHROMIUM).exists() and Path(CHROMEDRIVER).exists()):
        pytest.fail("chromium and chromium-driver are not installed (make install installs them)")
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait

    workspace = tmp_path / "workspace"
    project_id = fill_workspace(workspace)
    port = free_port()
    ui = ManagedProcess(
        "dashboard",
        [sys.executable, "-m", "ticketops", "dashboard", "--port", str(port), "--workspace", str(workspace)],
        tmp_path / "dashboard.log",
    ).start()
    driver = profile = None
    try:
        ui.wait_http(f"http://127.0.0.1:{port}/api/version", timeout=90)
        driver, profile = browser()
        driver.get(f"http://127.0.0.1:{port}/projects/{project_id}")
        wait = WebDriverWait(driver, 60, poll_frequency=0.5)
        wait.until(lambda d: all(title in d.find_element(By.TAG_NAME, "body").text for title in PANEL_TITLES))
        # Every plot panel draws its axes once its data arrived, and the bars and lines carry the windows.
        plots = len(PANEL_TITLES) - 1  # the ticket count is a counter, not a plot
        wait.until(lambda d: len(d.find_elements(By.CSS_SELECTOR, "svg .MuiChartsAxis-directionX")) >= plots)
        wait.until(lambda d: len(d.find_elements(By.CSS_SELECTOR, "svg rect")) >= 6 * len(WINDOWS))
        wait.until(lambda d: len(d.find_elements(By.CSS_SELECTOR, "svg path")) >= 7)  # one per line series
        body = driver.find_element(By.TAG_NAME, "body").text
        assert "ticket-classifier" in body
        time.sleep(1.0)  # let the last plots finish their transition before the picture
        screenshot = screenshot_path("dashboard.png", tmp_path)
        height = driver.execute_script("return document.documentElement.scrollHeight") + 150
        driver.set_window_size(1600, max(1200, min(int(height) + 100, 4000)))
        assert driver.save_screenshot(str(screenshot))
        assert screenshot.stat().st_size > 20_000
    finally:
        if driver is not None:
            driver.quit()
        if profile is not None:
            shutil.rmtree(profile, ignore_errors=True)
        ui.stop()
    assert "Traceback" not in (tmp_path / "dashboard.log").read_text()
