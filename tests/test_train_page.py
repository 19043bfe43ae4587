"""The training page driven as a user would, on tiny generated data."""
import time

import pytest
from streamlit.testing.v1 import AppTest

from ui.resources import job_runner


@pytest.fixture
def page(folder_dataset, monkeypatch, tmp_path):
    monkeypatch.setenv("FER_DATA", str(folder_dataset[0]))
    monkeypatch.setenv("FER_TRAINED_DIR", str(tmp_path / "trained"))
    monkeypatch.setenv("FER_ACTIVE_MODEL_FILE", str(tmp_path / "active.json"))
    return AppTest.from_file("../pages/train.py", default_timeout=120)


def _start(app, epochs):
    app.radio[0].set_value("Train")
    app.selectbox[0].set_value("seed")
    app.slider[0].set_value(epochs)
    app.select_slider[0].set_value(500)
    next(b for b in app.button if b.label == "Start").click()
    return app.run()


def _run_until(app, condition, timeout=180):
    deadline = time.time() + timeout
    while time.time() < deadline:
        app.run()
        if condition(app):
            return app
        time.sleep(0.3)
    raise AssertionError("the page never reached the expected state")


def test_a_tiny_training_run_shows_live_charts_then_the_report(page):
    app = _start(page.run(), epochs=2)
    assert not app.exception
    _run_until(app, lambda a: any(h.value.startswith("Result") for h in a.subheader))
    assert any(m.label == "PublicTest accuracy" for m in app.metric)
    assert len(job_runner().current.snapshot()["epochs"]) == 2
    assert any("Use this model" in b.label for b in app.button)
    next(b for b in app.button if b.label == "Use this model in the app").click()
    app.run()
    assert any("is the one the app uses now" in s.value for s in app.success)


def test_stop_cancels_a_running_job(page):
    app = _start(page.run(), epochs=60)
    _run_until(app, lambda a: any(b.label == "Stop" for b in a.button))
    next(b for b in app.button if b.label == "Stop").click()
    app.run()
    _run_until(app, lambda a: job_runner().current.status != "running")
    assert job_runner().current.status == "cancelled"
    assert len(job_runner().current.snapshot()["epochs"]) < 60
