"""One training or tuning job at a time, run in a child process of the server at lower priority.

Why a process and not a thread: training in the web server's process competes for its GIL with
every page, and Streamlit clears Keras's session and collects garbage after every script run (each
second while a job is watched), which starved the training thread. The child sends every progress
event back through a queue; a Job in the server keeps them so that any number of viewers (browser
tabs, a reloaded page) read the same state. JobRunner refuses a second job while one runs, and jobs
larger than the server's limits (JobLimits, set by its maintainer); only the job's owner or a
maintainer may stop it. All of this lives in one server process: with several app servers, only one
has FER_MAINTAINER_KEY (the others' Train pages are read-only), so one process owns training
(docs/deploy.md).
"""
from __future__ import annotations

import copy
import multiprocessing
import os
import queue
import threading
import time
import traceback
import uuid
from dataclasses import dataclass, fields
from pathlib import Path

from fercore.errors import FercoreError
from fercore.training_events import CancelToken, TrainingListener

RUNNING, FINISHED, CANCELLED, FAILED = "running", "finished", "cancelled", "failed"
KINDS = ("train", "tune")
NICENESS = 10  # the class's quiz stays responsive while a job runs
STOP_GRACE_S = 60.0  # after Stop, a job still running this long is ended by force
# The TrainingListener calls a child forwards to the server.
EVENTS = ("on_run_begin", "on_trial_begin", "on_epoch_begin", "on_batch_end", "on_epoch_end", "on_trial_end",
          "on_measure_begin", "on_run_end", "message")
# The Train page's first settings (fields of fercore.train.TrainConfig): the seed network visibly
# learning. `python -m benchmarks.demo` on a 2-core AVX2 CPU: 45.3-46.5% on PublicTest in 80 s in all
# (3 seeds), and 45.1-46.0% in 25-28 s on a 2-core AVX-512 one (2 seeds); the earlier 32 filters and 3
# epochs reached 44.4-45.9% in 111-130 s (AVX2).
DEMO_TRAINING = {"arch": "seed", "epochs": 4, "subset": 10_000, "augment": 0.0, "batch_size": 32}


@dataclass(frozen=True)
class JobLimits:
    """The largest job this server runs; a maintainer sets them in FER_MAX_EPOCHS, FER_MAX_TRAIN_FACES
    and FER_MAX_TUNE_MINUTES."""

    epochs: int = 60
    train_faces: int = 28_709  # all of FER2013's Training split
    tune_minutes: int = 600

    @classmethod
    def from_env(cls) -> JobLimits:
        variables = {"epochs": "FER_MAX_EPOCHS", "train_faces": "FER_MAX_TRAIN_FACES",
                     "tune_minutes": "FER_MAX_TUNE_MINUTES"}
        values = {}
        for field in fields(cls):
            text = os.environ.get(variables[field.name], "")
            if text:
                if not text.isdigit() or int(text) < 1:
                    raise FercoreError(f"{variables[field.name]} must be a whole number of at least 1, not {text!r}.")
                values[field.name] = int(text)
        return cls(**values)

    def check(self, kind: str, settings: dict) -> None:
        """Raise JobTooLarge when the settings ask for more than these limits."""
        epochs = settings.get("epochs" if kind == "train" else "max_epochs") or 0
        faces = settings.get("subset") or JobLimits.train_faces  # None: every Training face
        minutes = (settings.get("time_budget_s") or float("inf")) / 60 if kind == "tune" else 0
        for asked, most, what in ((epochs, self.epochs, "epochs"), (faces, self.train_faces, "training faces"),
                                  (minutes, self.tune_minutes, "minutes of tuning")):
            if asked > most:
                raise JobTooLarge(f"This server runs at most {most:,} {what} per job.")


class JobTooLarge(FercoreError):
    pass


class NotYourJob(FercoreError):
    pass


class JobBusy(FercoreError):
    pass


class Job(TrainingListener):
    """The state of one run, updated from the child's events and read from page threads."""

    def __init__(self, kind: str, settings: dict, out: Path, owner: str | None = None):
        self.id = uuid.uuid4().hex[:8]
        self.kind, self.settings, self.out = kind, dict(settings), Path(out)
        self.owner = owner  # who started it (a browser session's id): they may stop it
        self._lock = threading.Lock()
        self._state = {
            "id": self.id, "kind": kind, "status": RUNNING, "out": str(out), "started": time.time(),
            "finished": None, "info": {}, "epochs": [], "batch": None, "trials": [], "current_trial": None,
            "messages": [], "summary": None, "error": None, "steps_done": 0, "pid": None, "measuring": False,
        }

    # --- TrainingListener: the events of the training run ---
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

    def on_measure_begin(self):
        self._update(measuring=True)

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
        self._cancel = None  # the running child's stop flag
        self._context = multiprocessing.get_context("spawn")  # a fresh interpreter: no server state, no fork of threads

    @property
    def current(self) -> Job | None:
        return self._job

    def start(self, kind: str, settings: dict, out, owner: str | None = None) -> Job:
        """settings: the fields of fercore.train.TrainConfig ("train") or fercore.tune.TuneConfig ("tune").
        Raises JobTooLarge beyond JobLimits.from_env(), JobBusy while another job runs."""
        if kind not in KINDS:
            raise FercoreError(f"Unknown job kind '{kind}'; choose one of {', '.join(KINDS)}.")
        JobLimits.from_env().check(kind, settings)
        with self._lock:
            if self._job and self._job.status == RUNNING:
                raise JobBusy(f"A {self._job.kind} job is already running; wait for it or stop it first.")
            job, events, cancel = Job(kind, settings, out, owner), self._context.Queue(), self._context.Event()
            child = self._context.Process(target=_run_in_child, args=(kind, job.settings, str(out), events, cancel),
                                          name=f"fercore-{kind}", daemon=True)
            child.start()
            job._update(pid=child.pid)
            self._job, self._cancel = job, cancel
        threading.Thread(target=_follow, args=(job, child, events, cancel), name=f"fercore-{kind}-events",
                         daemon=True).start()
        return job

    def may_stop(self, by: str | None, maintainer: bool = False) -> bool:
        return maintainer or (by is not None and self._job is not None and self._job.owner == by)

    def cancel(self, by: str | None = None, maintainer: bool = False) -> None:
        """Stop the running job after the batch in progress (by force if it has not ended within a minute).
        by: who asks (compared with the job's owner); a maintainer may stop any job."""
        if not self.may_stop(by, maintainer):
            raise NotYourJob("Only the person who started this job, or the server's maintainer, can stop it.")
        if self._cancel is not None:
            self._cancel.set()


def _follow(job: Job, child, events, cancel) -> None:
    """Server side: apply the child's events to the Job until the child has ended and said so."""
    cancelled_at = None
    while job.status == RUNNING:
        try:
            name, args = events.get(timeout=0.5)
        except queue.Empty:
            if cancel.is_set():
                cancelled_at = cancelled_at or time.monotonic()
                if time.monotonic() - cancelled_at > STOP_GRACE_S:
                    child.terminate()
            if not child.is_alive() and events.empty():
                job._end(CANCELLED if cancel.is_set() else FAILED,
                         None if cancel.is_set() else f"the job's process ended unexpectedly (exit code {child.exitcode})")
            continue
        if name == "_end":
            job._end(*args)
        else:
            getattr(job, name)(*args)
    child.join(timeout=10)


class _Forwarder(TrainingListener):
    """Child side: sends every listener call to the server."""

    def __init__(self, events):
        self.events = events


def _forwarding(name: str):
    def forward(self, *args):
        self.events.put((name, args))
    return forward


for _name in EVENTS:
    setattr(_Forwarder, _name, _forwarding(_name))


def _run_in_child(kind: str, settings: dict, out: str, events, cancel_event) -> None:
    os.nice(NICENESS)
    listener, cancel = _Forwarder(events), CancelToken(cancel_event)
    try:
        if kind == "train":
            from fercore.train import TrainConfig, train

            config = TrainConfig(**settings)
            train(config, out, resume=False, listener=listener, cancel=cancel, command=f"(app) train {config}")
        else:
            from fercore.tune import TuneConfig, tune

            config = TuneConfig(**settings)
            tune(config, out, listener=listener, cancel=cancel, command=f"(app) tune {config}")
        events.put(("_end", (CANCELLED if cancel.cancelled else FINISHED, None)))
    except FercoreError as exc:
        events.put(("_end", (FAILED, str(exc))))
    except Exception as exc:  # tell the page what happened; the server itself is unaffected
        traceback.print_exc()
        events.put(("_end", (FAILED, f"{type(exc).__name__}: {exc}")))
    finally:
        events.close()
        events.join_thread()  # every event reaches the server before the process ends
