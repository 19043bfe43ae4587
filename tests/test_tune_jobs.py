"""Hyperband tuning and background jobs, on tiny generated data."""
import os
import signal
import time

import pytest

from fercore import jobs
from fercore.artifact import read_metadata
from fercore.jobs import CANCELLED, FINISHED, RUNNING, JobBusy, JobRunner, NotYourJob, progress
from fercore.training_events import TrainingListener
from fercore.tune import TuneConfig, tune

TINY_TRAIN = dict(arch="seed", batch_size=8, hparams={"filters": 8, "dense_units": 16})


class TrialRecorder(TrainingListener):
    def __init__(self):
        self.begun, self.ended = [], []

    def on_trial_begin(self, trial_id, hyperparameters):
        self.begun.append(trial_id)

    def on_trial_end(self, trial_id, score):
        self.ended.append((trial_id, score))


def _tiny_tune(folder, directory, **changes):
    return TuneConfig(**({"max_epochs": 2, "factor": 2, "subset": None, "arch": "seed", "batch_size": 8,
                          "directory": str(directory), "data": str(folder)} | changes))


def test_hyperband_completes_saves_the_best_and_resumes_without_redoing_trials(folder_dataset, tmp_path):
    recorder = TrialRecorder()
    summary = tune(_tiny_tune(folder_dataset[0], tmp_path / "tuning"), tmp_path / "tuned.keras", listener=recorder)
    assert recorder.begun and len(recorder.ended) == len(recorder.begun)
    card = read_metadata(summary["artifact"])
    assert card["training"]["kind"] == "hyperband" and card["hyperparameters"]["arch"] == "seed"
    assert card["training"]["best_public_accuracy"] == max(s for _, s in recorder.ended)
    assert "augment" in card["hyperparameters"]

    again = TrialRecorder()  # same directory: keras-tuner reloads its state (the prototype crashed here)
    resumed = tune(_tiny_tune(folder_dataset[0], tmp_path / "tuning"), tmp_path / "tuned.keras", listener=again)
    assert again.begun == [] and len(resumed["trials"]) == len(summary["trials"])


def test_time_budget_stops_before_new_trials(folder_dataset, tmp_path):
    recorder = TrialRecorder()
    summary = tune(_tiny_tune(folder_dataset[0], tmp_path / "t", time_budget_s=1e-6), tmp_path / "x.keras",
                   listener=recorder)
    assert recorder.begun == [] and summary["artifact"] is None


def _wait(job, status=None, timeout=120):
    deadline = time.time() + timeout
    while time.time() < deadline:
        if job.status != RUNNING if status is None else job.snapshot()["status"] == status:
            return job.snapshot()
        time.sleep(0.1)
    raise AssertionError(f"job still {job.status} after {timeout}s")


def _first_epoch(job, timeout=120):
    deadline = time.time() + timeout
    while not job.snapshot()["epochs"]:
        assert time.time() < deadline and job.status == RUNNING, job.snapshot()["error"]
        time.sleep(0.05)


@pytest.fixture
def runner(tmp_path):
    """Jobs in a folder of the test's own; a job's process still running afterwards is ended (it outlives
    its server by design)."""
    runner = JobRunner(tmp_path / "jobs")
    yield runner
    job = runner.current
    if job is not None and job.status == RUNNING:
        os.kill(job.snapshot()["pid"], signal.SIGKILL)


def test_a_background_training_job_reports_epochs_and_only_one_runs(folder_dataset, tmp_path, runner):
    job = runner.start("train", dict(epochs=2, data=str(folder_dataset[0]), **TINY_TRAIN), tmp_path / "j.keras")
    with pytest.raises(JobBusy):
        runner.start("train", dict(epochs=1, data=str(folder_dataset[0]), **TINY_TRAIN), tmp_path / "k.keras")
    snapshot = _wait(job)
    assert snapshot["status"] == FINISHED, snapshot["error"]
    assert [e["epoch"] for e in snapshot["epochs"]] == [1, 2]
    assert progress(snapshot) == (1.0, 0.0)
    assert snapshot["summary"]["evaluation"]["public"]["n"] == 14
    assert snapshot["measuring"]  # the child said when its last epoch was over
    assert runner.start("train", dict(epochs=1, data=str(folder_dataset[0]), **TINY_TRAIN),
                        tmp_path / "k.keras")  # free again once the first finished
    _wait(runner.current)


def test_stopping_a_job_ends_it_as_cancelled(folder_dataset, tmp_path, runner):
    job = runner.start("train", dict(epochs=50, data=str(folder_dataset[0]), **TINY_TRAIN), tmp_path / "c.keras")
    _first_epoch(job)
    runner.cancel(maintainer=True)
    snapshot = _wait(job)
    assert snapshot["status"] == CANCELLED
    assert len(snapshot["epochs"]) < 50
    assert snapshot["summary"]["artifact"]  # the finished epochs were kept


def test_a_failing_job_reports_a_message_not_a_crash(tmp_path, runner):
    job = runner.start("train", dict(epochs=1, data=str(tmp_path / "missing"), **TINY_TRAIN), tmp_path / "f.keras")
    snapshot = _wait(job)
    assert snapshot["status"] == "failed" and "does not exist" in snapshot["error"]


def test_a_job_whose_process_dies_is_reported_as_failed_not_running(folder_dataset, tmp_path, runner):
    job = runner.start("train", dict(epochs=50, data=str(folder_dataset[0]), **TINY_TRAIN), tmp_path / "d.keras")
    assert job.snapshot()["pid"] != os.getpid()  # training never competes with the server's own threads
    os.kill(job.snapshot()["pid"], signal.SIGKILL)
    snapshot = _wait(job)
    assert snapshot["status"] == "failed" and "ended unexpectedly" in snapshot["error"]
    assert runner.start("train", dict(epochs=1, data=str(folder_dataset[0]), **TINY_TRAIN), tmp_path / "e.keras")
    _wait(runner.current)


def test_a_running_job_is_found_again_from_its_folder_by_a_fresh_server_which_refuses_a_second_and_may_stop_it(
        folder_dataset, tmp_path, runner):
    """As after a visitor empties Streamlit's caches, or the server restarts: nothing of the job is in memory."""
    job = runner.start("train", dict(epochs=50, data=str(folder_dataset[0]), **TINY_TRAIN), tmp_path / "r.keras",
                       owner="browser-1")
    _first_epoch(job)
    jobs._FOLLOWED.clear()
    fresh = JobRunner(tmp_path / "jobs")
    found = fresh.current
    assert found is not job and found.id == job.id and found.status == RUNNING
    assert found.snapshot()["epochs"] and found.snapshot()["pid"] == job.snapshot()["pid"]
    with pytest.raises(JobBusy, match="A train job is already running"):
        fresh.start("train", dict(epochs=1, data=str(folder_dataset[0]), **TINY_TRAIN), tmp_path / "s.keras")
    with pytest.raises(NotYourJob):
        fresh.cancel("browser-2")
    fresh.cancel("browser-1")  # its owner, in a browser session that survived
    snapshot = _wait(found)
    assert snapshot["status"] == CANCELLED and snapshot["summary"]["artifact"]


def test_batches_are_written_a_few_times_a_second_and_counted_whole(tmp_path):
    writer = jobs._EventWriter(tmp_path / "events.jsonl")
    for batch in range(500):
        writer.on_batch_end(0, batch, {"loss": 1.0})
    writer.on_epoch_end(0, {"loss": 1.0})
    lines = (tmp_path / "events.jsonl").read_text().splitlines()
    assert len(lines) < 20
    job = jobs.Job("train", {}, tmp_path / "x.keras")
    for line in lines:
        name, args = jobs.json.loads(line)
        getattr(job, name)(*args)
    snapshot = job.snapshot()
    assert snapshot["steps_done"] == 500 and snapshot["batch"]["batch"] == 499 and len(snapshot["epochs"]) == 1
