"""One training or tuning job at a time, run in a process of its own at lower priority.

Why a process and not a thread: training in the web server's process competes for its GIL with
every page, and Streamlit clears Keras's session and collects garbage after every script run (each
second while a job is watched), which starved the training thread.

What must outlast the server's memory lives in the jobs folder (FER_TRAINED_DIR/jobs): a visitor can
empty Streamlit's caches and a server can restart, and neither may lose a running job, its Stop or its
report, or let a second job start beside it.
- The one-job rule is an operating-system lock (flock) on jobs/lock: the server that starts a job takes
  it and hands it to the job's process, which holds it until it ends, however it ends (the kernel lets
  go of a killed process's lock).
- Each job has a folder: job.json (what it runs, who started it, its process), events.jsonl (its
  progress, appended by the job's process), stop (someone pressed Stop) and log.txt (its output).
  jobs/current names the newest job.
- Any server process, a restarted one or another sharing the folder, rebuilds a job's state from these.
Only the job's owner or a maintainer may stop it; with several app servers only one has
FER_MAINTAINER_KEY (the others' Train pages are read-only), so one server starts jobs (docs/deploy.md).
"""
from __future__ import annotations

import copy
import fcntl
import json
import os
import signal
import subprocess
import sys
import threading
import time
import uuid
from dataclasses import dataclass, fields
from pathlib import Path

from fercore import registry
from fercore.data import PROJECT_ROOT
from fercore.errors import FercoreError
from fercore.training_events import CancelToken, TrainingListener

RUNNING, FINISHED, CANCELLED, FAILED = "running", "finished", "cancelled", "failed"
KINDS = ("train", "tune")
NICENESS = 10  # the class's quiz stays responsive while a job runs
STOP_GRACE_S = 60.0  # after Stop, a job still running this long ends itself
# The TrainingListener calls a job's process writes down for the server.
EVENTS = ("on_run_begin", "on_trial_begin", "on_epoch_begin", "on_epoch_end", "on_trial_end",
          "on_measure_begin", "on_run_end", "message")
BATCH_EVENTS_PER_S = 4  # enough for a progress bar; one line per batch would be thousands per epoch
LOCK, CURRENT = "lock", "current"  # in the jobs folder
RECORD, EVENTS_FILE, STOP, LOG = "job.json", "events.jsonl", "stop", "log.txt"  # in a job's folder
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
    """The state of one run, rebuilt from its folder's events (or fed events directly), read from page threads."""

    def __init__(self, kind: str, settings: dict, out: Path, owner: str | None = None, job_id: str | None = None,
                 folder: Path | None = None):
        self.id = job_id or uuid.uuid4().hex[:8]
        self.kind, self.settings, self.out = kind, dict(settings), Path(out)
        self.owner = owner  # who started it (a browser session's id): they may stop it
        self.folder = folder  # None: a job held in memory only
        self._lock = threading.Lock()
        self._read_to = 0  # how much of the events file is applied
        self._reading = threading.Lock()  # one reader at a time applies the events in their order
        self._state = {
            "id": self.id, "kind": kind, "status": RUNNING, "out": str(out), "started": time.time(),
            "finished": None, "info": {}, "epochs": [], "batch": None, "trials": [], "current_trial": None,
            "messages": [], "summary": None, "error": None, "steps_done": 0, "pid": None, "measuring": False,
        }

    @classmethod
    def from_folder(cls, folder: Path) -> Job:
        record = json.loads((folder / RECORD).read_text())
        job = cls(record["kind"], record["settings"], record["out"], record["owner"], record["id"], folder)
        job._update(pid=record.get("pid"), started=record["started"])
        return job

    # --- TrainingListener: the events of the training run ---
    def on_run_begin(self, info):
        self._update(info=info, trials=list(info.get("previous_trials", [])))

    def on_trial_begin(self, trial_id, hyperparameters):
        self._update(current_trial={"trial": trial_id, **hyperparameters})

    def on_epoch_begin(self, epoch):
        self._update(batch={"epoch": epoch, "batch": -1, "started": time.time()})

    def on_batch_end(self, epoch, batch, logs):
        self.on_batches_end(epoch, batch, logs, 1)

    def on_batches_end(self, epoch, batch, logs, count):
        """`count` batches have ended since the last call, the newest being `batch`."""
        with self._lock:
            self._state["batch"] = {**(self._state["batch"] or {}), "epoch": epoch, "batch": batch, **logs}
            self._state["steps_done"] += count

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
        self.refresh()
        with self._lock:
            return copy.deepcopy(self._state)

    @property
    def status(self) -> str:
        self.refresh()
        with self._lock:
            return self._state["status"]

    def refresh(self) -> None:
        """Apply what the job's process has written since the last look; a process gone without its last
        word ended unexpectedly (killed, out of memory), or by force after a Stop."""
        if self.folder is None or self._state["status"] != RUNNING:
            return
        with self._reading:
            alive = job_process_alive(self.folder.parent)  # first: a process gone has written all it will
            with open(self.folder / EVENTS_FILE, "rb") as events:
                events.seek(self._read_to)
                written = events.read()
            complete = written[: written.rfind(b"\n") + 1]  # a line being written waits for the next look
            self._read_to += len(complete)
            for line in complete.splitlines():
                name, args = json.loads(line)
                self._end(*args) if name == "_end" else getattr(self, name)(*args)
            if not alive and self._state["status"] == RUNNING:
                stopped = (self.folder / STOP).exists()
                self._end(CANCELLED if stopped else FAILED,
                          None if stopped else "the job's process ended unexpectedly; the server's job log says more")

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
    """The server's one job, found in the jobs folder: cheap to create, nothing to keep between calls."""

    def __init__(self, folder: str | os.PathLike | None = None):
        self.folder = Path(folder) if folder else registry.trained_dir() / "jobs"

    @property
    def current(self) -> Job | None:
        """The newest job, running or ended."""
        try:
            job_id = (self.folder / CURRENT).read_text().strip()
        except FileNotFoundError:
            return None
        return _followed(self.folder / job_id)

    def start(self, kind: str, settings: dict, out, owner: str | None = None) -> Job:
        """settings: the fields of fercore.train.TrainConfig ("train") or fercore.tune.TuneConfig ("tune").
        Raises JobTooLarge beyond JobLimits.from_env(), JobBusy while another job runs."""
        if kind not in KINDS:
            raise FercoreError(f"Unknown job kind '{kind}'; choose one of {', '.join(KINDS)}.")
        JobLimits.from_env().check(kind, settings)
        self.folder.mkdir(parents=True, exist_ok=True)
        with self._one_job_lock() as lock:
            job_id = uuid.uuid4().hex[:8]
            folder = self.folder / job_id
            folder.mkdir()
            record = {"id": job_id, "kind": kind, "settings": dict(settings), "out": str(out), "owner": owner,
                      "started": time.time()}
            _write_atomically(folder / RECORD, json.dumps(record))
            (folder / EVENTS_FILE).touch()
            child = _start_process(folder, lock)
            _write_atomically(folder / RECORD, json.dumps(record | {"pid": child.pid}))
            _write_atomically(self.folder / CURRENT, job_id)
        threading.Thread(target=child.wait, name=f"fercore-{kind}-reaper", daemon=True).start()
        return _followed(folder)

    def may_stop(self, by: str | None, maintainer: bool = False) -> bool:
        job = self.current
        return maintainer or (by is not None and job is not None and job.owner == by)

    def cancel(self, by: str | None = None, maintainer: bool = False) -> None:
        """Stop the running job after the batch in progress (it ends itself if still running a minute later).
        by: who asks (compared with the job's owner); a maintainer may stop any job."""
        if not self.may_stop(by, maintainer):
            raise NotYourJob("Only the person who started this job, or the server's maintainer, can stop it.")
        job = self.current
        if job is None or job.status != RUNNING:  # running: its lock is held, so the pid is still the job's
            return
        (job.folder / STOP).write_text(str(time.time()))
        try:
            os.kill(job.snapshot()["pid"], signal.SIGTERM)
        except (ProcessLookupError, TypeError):  # ended meanwhile, or not yet recorded
            pass

    def _one_job_lock(self):
        """The jobs folder's lock, taken without waiting; JobBusy while a job's process holds it."""
        lock = open(self.folder / LOCK, "a")
        for _ in range(5):  # another server may be looking for a moment (job_process_alive)
            try:
                fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
                return lock  # closed by `with`: the job's process holds the lock from then on
            except BlockingIOError:
                time.sleep(0.02)
        lock.close()
        running = self.current
        what = running.kind if running else "training"
        raise JobBusy(f"A {what} job is already running; wait for it or stop it first.")


def job_process_alive(jobs_folder: Path) -> bool:
    """Whether a job's process holds the jobs folder's lock."""
    with open(jobs_folder / LOCK, "a") as lock:
        try:
            fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            return True
        fcntl.flock(lock, fcntl.LOCK_UN)
        return False


_FOLLOWED: dict[Path, Job] = {}  # this process's view of recent jobs; lost with no harm (rebuilt from disk)
_FOLLOWED_LOCK = threading.Lock()


def _followed(folder: Path) -> Job:
    with _FOLLOWED_LOCK:
        if folder not in _FOLLOWED:
            while len(_FOLLOWED) >= 4:
                _FOLLOWED.pop(next(iter(_FOLLOWED)))
            _FOLLOWED[folder] = Job.from_folder(folder)
        return _FOLLOWED[folder]


def _write_atomically(path: Path, text: str) -> None:
    written = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    written.write_text(text)
    os.replace(written, path)


def _start_process(folder: Path, lock) -> subprocess.Popen:
    """The job's process, holding the lock; in a session of its own, so it outlives a server restart."""
    environment = os.environ | {"PYTHONPATH": os.pathsep.join(filter(None, [str(PROJECT_ROOT),
                                                                           os.environ.get("PYTHONPATH")]))}
    with open(folder / LOG, "ab") as log:
        return subprocess.Popen(
            [sys.executable, "-c", "import sys; from fercore.jobs import run_job; run_job(*sys.argv[1:])", str(folder),
             str(lock.fileno())],
            pass_fds=(lock.fileno(),), stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT,
            env=environment, start_new_session=True)


class _EventWriter(TrainingListener):
    """The job's side: appends each listener call to events.jsonl, batches a few times a second."""

    def __init__(self, path: Path):
        self._file = open(path, "a", encoding="utf-8")
        self._batches = None  # the newest batch not yet written, and how many ended since the last written
        self._written_at = 0.0

    def on_batch_end(self, epoch, batch, logs):
        count = self._batches[3] + 1 if self._batches else 1
        self._batches = (epoch, batch, logs, count)
        if time.monotonic() - self._written_at >= 1 / BATCH_EVENTS_PER_S:
            self._write_batches()

    def write(self, name: str, *args) -> None:
        self._write_batches()  # every batch is counted before the epoch's end, or the job's
        self._file.write(json.dumps([name, args], default=_json_value) + "\n")
        self._file.flush()

    def _write_batches(self) -> None:
        if self._batches:
            batches, self._batches = self._batches, None
            self.write("on_batches_end", *batches)
            self._written_at = time.monotonic()


def _writing(name: str):
    def write(self, *args):
        self.write(name, *args)
    return write


for _name in EVENTS:
    setattr(_EventWriter, _name, _writing(_name))


def _json_value(value):
    """NumPy's numbers and arrays in a summary, as JSON has them."""
    return value.tolist() if hasattr(value, "tolist") else str(value)


def run_job(folder: str, lock: str) -> None:
    """The job's process: runs the job its folder describes, writing its events there, and lets go of the
    one-job lock (file descriptor `lock`) once its last word is written. SIGTERM is Stop."""
    folder = Path(folder)
    os.nice(NICENESS)
    record = json.loads((folder / RECORD).read_text())
    kind, settings, out = record["kind"], record["settings"], record["out"]
    events, cancel = _EventWriter(folder / EVENTS_FILE), CancelToken()
    signal.signal(signal.SIGTERM, lambda *_: _stop_soon(cancel))
    try:
        if kind == "train":
            from fercore.train import TrainConfig, train

            config = TrainConfig(**settings)
            train(config, out, resume=False, listener=events, cancel=cancel, command=f"(app) train {config}")
        else:
            from fercore.tune import TuneConfig, tune

            config = TuneConfig(**settings)
            tune(config, out, listener=events, cancel=cancel, command=f"(app) tune {config}")
        events.write("_end", CANCELLED if cancel.cancelled else FINISHED, None)
    except FercoreError as exc:
        events.write("_end", FAILED, str(exc))
    except Exception as exc:  # tell the page what happened; the server itself is unaffected
        import traceback

        traceback.print_exc()
        events.write("_end", FAILED, f"{type(exc).__name__}: {exc}")
    finally:
        os.close(int(lock))  # the next job may start while this interpreter winds down (seconds, with TensorFlow)


def _stop_soon(cancel: CancelToken) -> None:
    """Stop after the batch in progress; a job stuck longer than STOP_GRACE_S ends by force."""
    cancel.cancel()
    deadline = threading.Timer(STOP_GRACE_S, os._exit, args=(1,))
    deadline.daemon = True  # a job that stops in time ends at once
    deadline.start()
