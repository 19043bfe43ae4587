"""The training page driven as a user would, on tiny generated data."""
import os
import signal
import time

import numpy as np
import pytest
from streamlit.testing.v1 import AppTest

from fercore.evaluate import report
from fercore.jobs import FINISHED, RUNNING, Job, JobRunner, JobTooLarge, NotYourJob
from ui.resources import job_runner


@pytest.fixture
def page(folder_dataset, monkeypatch, tmp_path):
    monkeypatch.setenv("FER_DATA", str(folder_dataset[0]))
    monkeypatch.setenv("FER_TRAINED_DIR", str(tmp_path / "trained"))
    monkeypatch.setenv("FER_ACTIVE_MODEL_FILE", str(tmp_path / "active.json"))
    monkeypatch.setenv("FER_MAINTAINER_KEY", "staff-room-42")
    app = AppTest.from_file("../pages/train.py", default_timeout=120)
    app.session_state["maintainer"] = True  # unlocked as in test_only_a_maintainer_...
    yield app
    job = job_runner().current  # a job's process outlives its server by design: not the test's
    if job is not None and job.folder is not None and job.status == RUNNING:
        os.kill(job.snapshot()["pid"], signal.SIGKILL)


def another_browser():
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


def test_the_form_starts_from_the_demo_that_visibly_learns(page):
    app = page.run()
    assert not app.exception
    assert (app.selectbox[0].value, app.slider[0].value, app.select_slider[0].value) == ("seed", 4, 10000)
    assert app.select_slider[1].label == "Faces per step (batch size)" and app.select_slider[1].value == 32
    assert app.toggle[0].value is False  # augmentation off: in a minute it only slows learning


def test_a_tiny_training_run_shows_live_charts_then_the_report(page):
    app = _start(page.run(), epochs=2)
    assert not app.exception
    assert job_runner().current.settings["batch_size"] == 32
    _run_until(app, lambda a: any(h.value.startswith("Result") for h in a.subheader))
    assert any("never trains on" in c.value for c in app.caption)  # what the learner is watching
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


def test_without_a_maintainer_key_the_page_is_read_only_and_says_how_to_unlock(page, monkeypatch):
    monkeypatch.delenv("FER_MAINTAINER_KEY")
    app = page.run()
    assert not app.exception and "read-only on this server" in app.info[0].value
    assert "FER_MAINTAINER_KEY=" in app.info[0].value and not any(b.label == "Start" for b in app.button)


def test_only_a_maintainer_starts_training_and_only_the_owner_or_a_maintainer_stops_it(page):
    learner = another_browser().run()
    assert not any(b.label == "Start" for b in learner.button)
    box = next(t for t in learner.text_input if t.label == "Maintainer key")
    box.input("guess")
    next(b for b in learner.button if b.label == "Unlock training").click()
    learner.run()
    assert "not this server's maintainer key" in learner.warning[0].value
    assert not any(b.label == "Start" for b in learner.button)

    app = _start(page.run(), epochs=60)  # the maintainer's browser starts a long job
    _run_until(app, lambda a: any(b.label == "Stop" for b in a.button))
    learner.run()
    assert any("Training: " in str(p.proto) for p in learner.get("progress"))  # watching is fine
    assert not any(b.label == "Stop" for b in learner.button)
    with pytest.raises(NotYourJob):
        job_runner().cancel(learner.session_state["browser_id"])
    assert job_runner().current.status == "running"

    colleague = another_browser().run()  # another maintainer, in a third browser
    next(t for t in colleague.text_input if t.label == "Maintainer key").input("staff-room-42")
    next(b for b in colleague.button if b.label == "Unlock training").click()
    colleague.run()
    next(b for b in colleague.button if b.label == "Stop").click()
    colleague.run()
    _run_until(colleague, lambda a: job_runner().current.status != "running")
    assert job_runner().current.status == "cancelled"


def test_jobs_beyond_the_servers_limits_are_refused(page, monkeypatch):
    monkeypatch.setenv("FER_MAX_EPOCHS", "3")
    monkeypatch.setenv("FER_MAX_TRAIN_FACES", "1000")
    app = page.run()
    assert app.slider[0].max == 3 and app.select_slider[0].options == ["500", "1000"]
    with pytest.raises(JobTooLarge, match="at most 3 epochs"):
        job_runner().start("train", dict(arch="seed", epochs=4, subset=500), "x.keras", "someone")
    with pytest.raises(JobTooLarge, match="at most 1,000 training faces"):
        job_runner().start("train", dict(arch="seed", epochs=1, subset=None), "x.keras", "someone")


def test_after_the_last_epoch_the_progress_says_the_kept_model_is_being_measured(page, monkeypatch, tmp_path):
    job = Job("train", {}, tmp_path / "m.keras")
    job.on_run_begin({"arch": "seed", "epochs": 1, "initial_epoch": 0, "steps_per_epoch": 2})
    for batch in range(2):
        job.on_batch_end(0, batch, {"loss": 1.0, "accuracy": 0.5})
    monkeypatch.setattr(JobRunner, "current", job)  # a job at this moment, however fast the machine
    assert _progress_texts(page.run()) == ["Training: epoch 1, batch 2"]
    job.on_measure_begin()
    [text] = _progress_texts(page.run())
    assert text.startswith("Training is over. Measuring the kept model on PublicTest and PrivateTest")


def test_a_finished_search_says_why_it_stopped(page, monkeypatch, tmp_path):
    job = Job("tune", {}, tmp_path / "tuned.keras")
    job.on_run_begin({"kind": "tune", "time_budget_s": 60})
    job.message("Search stopped: time budget reached.")
    job.on_run_end({"artifact": str(tmp_path / "tuned.keras"),
                    "evaluation": {"public": report(np.arange(7), np.arange(7))}})
    job._end(FINISHED)
    monkeypatch.setattr(JobRunner, "current", job)
    app = page.run()
    assert not app.exception
    assert any(h.value == "Result" for h in app.subheader)
    assert "Search stopped: time budget reached." in [c.value for c in app.caption]


def _progress_texts(app) -> list[str]:
    return [element.proto.text for element in app.get("progress")]
