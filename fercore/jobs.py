"""One training or tuning job at a time, run in a background thread of the server.

A Job records every progress event so that any number of viewers (browser tabs, a reloaded page)
can read the same state; JobRunner refuses a second job while one runs.
"""
from __future__ import annotations

import copy
import threading
import time
import traceback
import uuid
from pathlib import Path

from fercore.errors import FercoreError
from fercore.progress import CancelToken, TrainingListener

RUNNING, FINISHED, CANCELLED, FAILED = "running", "finished", "cancelled", "failed"


class JobBusy(FercoreError):
    pass


class Job(TrainingListener):
    """The state of one run, updated from the training thread and read from page threads."""

    def __init__(self, kind: str, config, out: Path):
        self.id = uuid.uuid4().hex[:8]
        self.kind, self.config, self.out = kind, config, Path(out)
        self.cancel_token = CancelToken()
        self._lock = threading.Lock()
        self._state = {
            "id": self.id, "kind": kind, "status": RUNNING, "out": str(out), "started": time.time(),
            "finished": None, "info": {}, "epochs": [], "batch": None, "trials": [], "current_trial": None,
            "messages": [], "summary": None, "error": None, "steps_done": 0,
        }

    # --- TrainingListener: called from the training thread ---
    def on_run_begin(self, info):
        self._update(info=info, trials=list(info.get("previous_trials", [])))

    def on_trial_begin(self, trial_id, hyperparameters):
        self._update(current_trial={"trial": trial_id, **hyperparameters})

    def on_epoch_begin(self, epoch):
        self._update(batch={"epoch": epoch, "batch": -1, "started": time.time()})

    def on_batch_end(self, epoch, batch, logs):
        with self._lock:
            self._state["batch"] = {**(self._state["batch"] or {}), "epoch": epoch, "batch": batch, **logs}
            self._state["steps_done"] += 1

    def on_epoch_end(self, epoch, logs):
        with self._lock:
            trial = (self._state["current_trial"] or {}).get("trial")
            self._state["epochs"].append({"epoch": epoch + 1, "trial": trial, **logs})

    def on_trial_end(self, trial_id, score):
        with self._lock:
            row = {**(self._state["current_trial"] or {"trial": trial_id}), "score": score}
            self._state["trials"] = [t for t in self._state["trials"] if t.get("trial") != trial_id] + [row]
            self._state["current_trial"] = None

    def message(self, text):
        with self._lock:
            self._state["messages"].append(text)

    def on_run_end(self, summary):
        self._update(summary=summary)

    # --- read side ---
    def snapshot(self) -> dict:
        with self._lock:
            return copy.deepcopy(self._state)

    @property
    def status(self) -> str:
        with self._lock:
            return self._state["status"]

    def _update(self, **fields):
        with self._lock:
            self._state.update(fields)

    def _end(self, status: str, error: str | None = None):
        self._update(status=status, error=error, finished=time.time())


def progress(snapshot: dict) -> tuple[float, float | None]:
    """(fraction done 0-1, seconds left or None) for a training job; tuning uses its time budget."""
    info, elapsed = snapshot["info"], (snapshot["finished"] or time.time()) - snapshot["started"]
    if snapshot["kind"] == "train" and info.get("steps_per_epoch"):
        total = (info["epochs"] - info["initial_epoch"]) * info["steps_per_epoch"]
        done = min(snapshot["steps_done"], total)
    elif snapshot["kind"] == "tune" and info.get("time_budget_s"):
        total, done = info["time_budget_s"], min(elapsed, info["time_budget_s"])
    else:
        return (1.0 if snapshot["status"] != RUNNING else 0.0), None
    fraction = done / total if total else 0.0
    if snapshot["status"] != RUNNING:
        return fraction, 0.0
    return fraction, (elapsed / fraction - elapsed) if fraction > 0.02 else None


class JobRunner:
    """Holds the server's one job. Share a single instance per server process."""

    def __init__(self):
        self._lock = threading.Lock()
        self._job: Job | None = None

    @property
    def current(self) -> Job | None:
        return self._job

    def start(self, kind: str, config, out) -> Job:
        with self._lock:
            if self._job and self._job.status == RUNNING:
                raise JobBusy(f"A {self._job.kind} job is already running; wait for it or stop it first.")
            self._job = Job(kind, config, out)
        threading.Thread(target=self._run, args=(self._job,), name=f"fercore-{kind}", daemon=True).start()
        return self._job

    def cancel(self) -> None:
        if self._job:
            self._job.cancel_token.cancel()

    @staticmethod
    def _run(job: Job) -> None:
        try:
            if job.kind == "train":
                from fercore.train import train

                train(job.config, job.out, resume=False, listener=job, cancel=job.cancel_token,
                      command=f"(app) train {job.config}")
            else:
                from fercore.tune import tune

                tune(job.config, job.out, listener=job, cancel=job.cancel_token, command=f"(app) tune {job.config}")
            job._end(CANCELLED if job.cancel_token.cancelled else FINISHED)
        except FercoreError as exc:
            job._end(FAILED, str(exc))
        except Exception as exc:  # keep the server alive and tell the page what happened
            traceback.print_exc()
            job._end(FAILED, f"{type(exc).__name__}: {exc}")
