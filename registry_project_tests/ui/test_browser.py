"""The real server in headless Chromium: tick two versions on the model page, compare; a
run page drawing a 10,000-step loss curve."""

from __future__ import annotations

import contextlib
import math
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import uvicorn

from registry_project import ModelRegistry
from registry_project.ui import create_app
from registry_project_tests.browser import chromium, wait_for_text
from registry_project_tests.docs_pictures import publish
from registry_project_tests.ui.fill import Demo
from registry_project_tests.ui.tracking_fill import CSV, EXPERIMENT, fill_sweep, tiny_png


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@contextlib.contextmanager
def serve(registry: ModelRegistry) -> Iterator[str]:
    """uvicorn on 127.0.0.1 in a thread, as `registry ui` runs it; yields the base URL."""
    port = free_port()
    app = create_app(registry, allowed_hosts=["127.0.0.1"])
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        assert thread.is_alive() and time.monotonic() < deadline, "uvicorn did not start"
        time.sleep(0.05)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=30)


@pytest.mark.slow
def test_tick_two_versions_and_compare_them(
    demo_registry: ModelRegistry, demo: Demo, tmp_path: Path
) -> None:
    with serve(demo_registry) as base, chromium() as driver:
        from selenium.webdriver.common.by import By

        driver.get(f"{base}/models/churn")
        wait_for_text(driver, ["Compare selected versions", "auc"])
        driver.find_element(By.ID, "compare-v5").click()
        driver.find_element(By.ID, "compare-v4").click()
        driver.find_element(By.ID, "compare-button").click()
        # Both versions' metrics, production's for reference and the deltas against it.
        source = wait_for_text(
            driver, ["churn: v4, v5", "metric.auc", "0.8517", "0.8392", "production (v2)"]
        )
        assert driver.current_url.startswith(f"{base}/models/churn/compare?")
        assert sorted(driver.current_url.split("?")[1].split("&")) == ["v=4", "v=5"]
        assert "+0.0078" in source and "-0.0047" in source and "0.866" in source
        highlighted = driver.find_elements(By.CSS_SELECTOR, "#comparison tr.differs")
        assert {row.get_attribute("data-row") for row in highlighted} >= {"metric.auc", "param.C"}
        height = driver.execute_script("return document.documentElement.scrollHeight")
        driver.set_window_size(1400, min(height + 120, 1800))
        screenshot = tmp_path / "compare.png"
        assert driver.save_screenshot(str(screenshot)) and screenshot.stat().st_size > 10_000
        publish(screenshot, "compare.png")  # only under `python -m ...docs_pictures`


@pytest.mark.slow
def test_a_ten_thousand_step_loss_curve_is_drawn_on_the_run_page(
    demo_registry: ModelRegistry, tmp_path: Path
) -> None:
    """10,000 points logged in a loop, read back in order, drawn in Chromium."""
    fill_sweep(demo_registry, steps=60)  # two more runs beside, to compare with
    steps = 10_000
    with demo_registry.start_run(
        "long-training",
        experiment=EXPERIMENT,
        params={"lr": 0.01, "layers": 4},
        tags={"team": "risk"},
        capture_environment=False,
    ) as run:
        for step in range(steps):
            loss = 2.0 * math.exp(-step / 1800) + 0.05 + 0.03 * math.sin(step / 40)
            run.log_metrics({"loss": loss, "lr": 0.01 * 0.9995**step}, step=step)
        run.log_metric("val_auc", 0.871)
        run.log_artifact(tiny_png(96, 48), "curves/sample.png")
        run.log_artifact(CSV, "feature_importances.csv")
    history = demo_registry.metric_history(run, "loss")
    assert [point.step for point in history] == list(range(steps))

    with serve(demo_registry) as base, chromium() as driver:
        from selenium.webdriver.common.by import By

        driver.get(f"{base}/runs/{run.id}")
        wait_for_text(driver, ["long-training", "Step metrics", "feature_importances.csv"])
        curve = driver.find_element(By.CSS_SELECTOR, "#curve-loss polyline.run-curve")
        assert curve.get_attribute("data-points") == str(steps)
        box = curve.rect
        assert box["width"] > 500 and box["height"] > 150  # spans the plot, drawn
        drawn = len(curve.get_attribute("points").split())
        assert 1000 < drawn <= 4 * 760  # thinned, not 10,000 SVG points
        image = driver.find_element(By.CSS_SELECTOR, '.artifact img[alt="curves/sample.png"]')
        assert driver.execute_script("return arguments[0].naturalWidth", image) == 96
        height = driver.execute_script("return document.documentElement.scrollHeight")
        driver.set_window_size(1400, min(height + 120, 2400))
        screenshot = tmp_path / "run.png"
        assert driver.save_screenshot(str(screenshot)) and screenshot.stat().st_size > 10_000
        publish(screenshot, "run.png")  # only under `python -m ...docs_pictures`
