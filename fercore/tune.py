"""keras-tuner Hyperband over fercore's hyperparameter space, objective PublicTest accuracy.

Resumable: the tuner's state lives in `directory/project` and `overwrite=False` continues it.
The best trial's model is saved as a normal artifact with its hyperparameters in the JSON.

Parallel: keras-tuner's own variables (KERASTUNER_TUNER_ID, KERASTUNER_ORACLE_IP, _PORT) make a process
the chief, which serves the oracle and saves the best model at the end, or a worker, which runs the
trials the chief hands out (docs/distributed.md).
"""
from __future__ import annotations

import os
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import keras
import keras_tuner as kt

from fercore import data as fer_data
from fercore.errors import FercoreError
from fercore.model import build_model
from fercore.pipeline import FaceBatches, KeepFreedMemory, class_weights, fit_input
from fercore.training_events import CancelToken, TrainingListener
from fercore.train import ListenerBridge, finish_artifact


@dataclass
class TuneConfig:
    max_epochs: int = 6
    factor: int = 3
    subset: int | None = 3000  # Training faces per trial; the objective always uses all of PublicTest
    time_budget_s: float | None = None  # no new trial starts after this
    arch: str | None = None  # fix the architecture family, or None to search it too
    batch_size: int = 64
    class_weight: str = "sqrt"
    seed: int = 0
    directory: str = "models/tuning"
    project: str = "hyperband"
    data: str | None = None
    workers: int | None = None  # local worker processes of a parallel search (recorded; the CLI starts them)


IDLE_WAIT_S = 0.1  # a worker told to wait (other workers' trials must end first) asks again after this


class _SearchStopped(Exception):
    """Raised between trials to end the search (cancel)."""


def parallel_role() -> str | None:
    """"chief" or "worker" when keras-tuner's variables make this process part of a parallel search."""
    if "KERASTUNER_ORACLE_IP" not in os.environ:
        return None
    missing = [name for name in ("KERASTUNER_ORACLE_PORT", "KERASTUNER_TUNER_ID") if not os.environ.get(name)]
    if missing:
        raise FercoreError(f"KERASTUNER_ORACLE_IP is set without {' and '.join(missing)}: a parallel search needs "
                           "all three (see docs/distributed.md).")
    return "chief" if "chief" in os.environ["KERASTUNER_TUNER_ID"] else "worker"


def oracle_address() -> str:
    return f"{os.environ['KERASTUNER_ORACLE_IP']}:{os.environ['KERASTUNER_ORACLE_PORT']}"


class _BudgetedOracle(kt.oracles.HyperbandOracle):
    """Hyperband that hands out no new trial after `deadline`. The oracle decides, so in a parallel
    search every worker is told to stop and the chief can end the search as keras-tuner does."""

    deadline: float | None = None
    budget_reached = False

    def populate_space(self, trial_id):
        if self.deadline and time.time() > self.deadline:
            self.budget_reached = True
            return {"status": "STOPPED"}
        return super().populate_space(trial_id)


class _FerHyperModel(kt.HyperModel):
    """Builds from the shared space; the augmentation strength is a searched training setting."""

    def __init__(self, config: TuneConfig, train_split, val_split, bridge: ListenerBridge):
        super().__init__()
        self.config, self.train_split, self.val_split = config, train_split, val_split
        self.bridge = bridge  # added here, not via search(): keras-tuner deep-copies those callbacks

    def build(self, hp):
        if self.config.arch:
            hp.Fixed("arch", self.config.arch)
        return build_model(hp)

    def fit(self, hp, model, *args, callbacks=(), **kwargs):
        augment = hp.Choice("augment", [0.0, 0.5, 1.0], default=1.0)
        train_batches = FaceBatches(self.train_split, self.config.batch_size, shuffle=True, augment=augment,
                                    seed=self.config.seed)
        return model.fit(fit_input(train_batches), steps_per_epoch=len(train_batches),
                         validation_data=FaceBatches(self.val_split, 256), shuffle=False,
                         class_weight=class_weights(self.train_split, self.config.class_weight),
                         callbacks=[*callbacks, self.bridge, KeepFreedMemory()], **kwargs)


class _Hyperband(kt.Hyperband):
    """Hyperband that reports trials to a listener, can be cancelled between trials and stops
    handing out trials after a deadline."""

    def __init__(self, hypermodel, *, config: TuneConfig, deadline: float | None, listener: TrainingListener,
                 cancel: CancelToken):
        oracle = _BudgetedOracle(objective="val_accuracy",  # PublicTest; PrivateTest is never used for choices
                                 max_epochs=config.max_epochs, factor=config.factor, seed=config.seed)
        oracle.deadline = deadline
        # kt.Hyperband.__init__ only builds its own oracle: skip it for this one
        kt.Tuner.__init__(self, oracle=oracle, hypermodel=hypermodel, directory=config.directory,
                          project_name=config.project, overwrite=False)  # continue an existing search in place
        self.listener, self.cancel = listener, cancel
        self.trials_run, self._asked_in_vain = [], False

    def pre_create_trial(self):
        if self.cancel.cancelled:
            raise _SearchStopped
        if self._asked_in_vain:  # the oracle said IDLE; keras-tuner itself would ask again at once
            time.sleep(IDLE_WAIT_S)
        self._asked_in_vain = True

    def on_trial_begin(self, trial):
        super().on_trial_begin(trial)
        self._asked_in_vain = False
        self.trials_run.append(trial.trial_id)
        self.listener.on_trial_begin(trial.trial_id, dict(trial.hyperparameters.values))

    def on_trial_end(self, trial):
        super().on_trial_end(trial)
        # the oracle scores the trial: in a parallel search that is the chief's copy, not this one
        self.listener.on_trial_end(trial.trial_id, self.oracle.get_trial(trial.trial_id).score)


def tune(config: TuneConfig, out: str | Path, listener: TrainingListener | None = None,
         cancel: CancelToken | None = None, command: str = "") -> dict:
    """Run (or continue) the search; save the best model to `out`. Returns a summary."""
    out, listener, cancel = Path(out), listener or TrainingListener(), cancel or CancelToken()
    role = parallel_role()
    keras.utils.set_random_seed(config.seed)
    splits = fer_data.load_fer2013(config.data)
    train_split = splits["train"].sample(config.subset, seed=config.seed)
    tuner = _Hyperband(_FerHyperModel(config, train_split, splits["public"], ListenerBridge(listener, cancel)),
                       config=config, deadline=time.time() + config.time_budget_s if config.time_budget_s else None,
                       listener=listener, cancel=cancel)
    listener.on_run_begin({"kind": "tune", "max_epochs": config.max_epochs, "factor": config.factor,
                           "train_size": len(train_split), "val_size": len(splits["public"]),
                           "time_budget_s": config.time_budget_s, "role": role,
                           # a worker's oracle is a client of the chief's, which alone knows the trials
                           "previous_trials": [] if role == "worker" else _trial_rows(tuner)})
    if role:
        listener.message(f"{tuner.tuner_id}: " + ("serving the search at " if role == "chief" else
                                                  "running trials for the chief at ") + oracle_address())
    started = time.time()
    try:
        tuner.search(verbose=0)  # a chief serves the oracle here until keras-tuner ends the search
    except _SearchStopped:
        listener.message("Search stopped: cancelled.")
    except RuntimeError as exc:
        if role == "chief" and "Failed to bind" in str(exc):  # gRPC's words
            raise FercoreError(f"The chief cannot serve the search at {oracle_address()}: the port is taken "
                               "or the address is not one of this machine's.") from None
        raise
    if getattr(tuner.oracle, "budget_reached", False):
        listener.message("Search stopped: time budget reached.")
    if role == "worker":
        summary = {"artifact": None, "worker": tuner.tuner_id, "trials_run": tuner.trials_run}
    else:
        listener.on_measure_begin()
        summary = _save_best(tuner, out, config, splits, command, time.time() - started, cancel.cancelled, role)
    listener.on_run_end(summary)
    return summary


def _trial_rows(tuner) -> list[dict]:
    """Every trial so far (this run and resumed ones), best first, for a UI table."""
    rows = [{"trial": t.trial_id, "score": t.score, "status": str(t.status), **t.hyperparameters.values}
            for t in tuner.oracle.trials.values()]
    return sorted(rows, key=lambda r: -(r["score"] or 0))


def _save_best(tuner, out, config, splits, command, seconds, cancelled, role) -> dict:
    finished = tuner.oracle.get_best_trials(1)
    if not finished or finished[0].score is None:
        return {"artifact": None, "cancelled": cancelled, "trials": _trial_rows(tuner)}
    best_trial = finished[0]
    try:
        model = tuner.get_best_models(1)[0]
    except Exception as exc:  # a trial directory removed by hand, for instance
        raise FercoreError(f"The best trial's weights in {config.directory} could not be loaded ({exc}).") from None
    summary = finish_artifact(
        model, out, splits,
        arch=best_trial.hyperparameters.get("arch"),
        hyperparameters=best_trial.hyperparameters.values,
        training={"command": command, "kind": "hyperband", "config": asdict(config),
                  "best_trial": best_trial.trial_id, "best_public_accuracy": best_trial.score,
                  "trials": len(tuner.oracle.trials), "seconds_this_run": round(seconds, 1),
                  "cancelled": cancelled, "oracle": oracle_address() if role else None},
        train_faces_used=config.subset or len(splits["train"]),
    )
    return summary | {"trials": _trial_rows(tuner), "best_trial": best_trial.trial_id}
