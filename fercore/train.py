"""Train a CNN on FER2013 Training, keep the best epoch on PublicTest, checkpoint every epoch,
resume after an interruption, and write the artifact with its evaluation.

`distribute` trains data-parallel on this machine's devices with tf.distribute (docs/distributed.md).
"""
from __future__ import annotations

import contextlib
import json
import math
import os
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

import keras

from fercore import data as fer_data
from fercore.artifact import commands_that_made, load_artifact, read_metadata, save_artifact
from fercore.errors import FercoreError
from fercore.evaluate import store_readings, test_readings
from fercore.labels import FACE_SIZE
from fercore.model import OPTIMIZER_DEFAULTS, OPTIMIZERS, build_model, hyperparameters, with_centre_crop
from fercore.pipeline import FaceBatches, KeepFreedMemory, class_weights, fit_input
from fercore.predict import Predictor
from fercore.training_events import CancelToken, TrainingListener
from fercore.teachers import load_teachers, soft_targets


@dataclass
class TrainConfig:
    arch: str = "default"
    epochs: int = 30
    batch_size: int = 64
    subset: int | None = None  # train on a random sample of this many Training faces
    augment: float = 1.0  # 0 switches augmentation off
    class_weight: str = "sqrt"
    seed: int = 0
    hparams: dict = field(default_factory=dict)  # overrides of the architecture's defaults
    data: str | None = None
    precision: str = "float32"  # or mixed_bfloat16; the saved model is float32 either way
    init_from: str | None = None  # a trained .keras of the same network to start from
    distribute: bool = False  # data-parallel over every local GPU, or every logical CPU device
    cpu_devices: int | None = None  # split the CPU into this many logical devices (to try `distribute`)
    time_limit_s: float | None = None  # fit the run into this many seconds (see _TimeBudget)
    teachers: str | None = None  # a teachers' readings file (fercore.teachers): distil from them
    distill: float = 0.8  # with teachers: the weight of their reading against the label
    mixup: float = 0.0  # Beta alpha of mixup, 0 = off (pipeline.mix_batch)
    cutmix: float = 0.0  # Beta alpha of CutMix, 0 = off
    holdout: str | None = None  # "K/N": leave fold K of N out of Training (a teacher then reads it unseen)
    # The recipe of the strongest from-scratch FER2013 networks (docs/model-experiments.md); all off by default.
    crop: int | None = None  # train on random crops of this side; the saved model reads the centre crop
    optimizer: str = "adamw"  # or sgd-nesterov (momentum 0.9; learning rate 1e-2 unless --set says otherwise)
    schedule: str = "cosine"  # warm-up then cosine decay; or plateau: ReduceLROnPlateau on PublicTest
    plateau_monitor: str = "val_accuracy"  # with schedule plateau: PublicTest's accuracy, or val_loss
    plateau_factor: float = 0.5  # the learning rate is multiplied by this...
    plateau_patience: int = 5  # ...after this many epochs without a better plateau_monitor


SCHEDULES = ("cosine", "plateau")
PLATEAU_MONITORS = ("val_accuracy", "val_loss")


def checkpoint_dir(out: Path) -> Path:
    return out.parent / "checkpoints" / out.stem


def cosine_lr(base: float, epochs: int, warmup: int = 1):
    """Linear warm-up for `warmup` epochs, then cosine decay to 1% of base."""
    def schedule(epoch: int, _lr=None) -> float:
        if epoch < warmup:
            return base * (epoch + 1) / (warmup + 1)
        progress = (epoch - warmup) / max(1, epochs - warmup)
        return base * (0.01 + 0.99 * 0.5 * (1 + math.cos(math.pi * min(progress, 1.0))))
    return schedule


class ListenerBridge(keras.callbacks.Callback):
    """Forwards Keras events to a TrainingListener and honours cancellation within a batch."""

    def __init__(self, listener: TrainingListener, cancel: CancelToken):
        super().__init__()
        self.listener, self.cancel = listener, cancel
        self._epoch, self._start = 0, 0.0

    def on_epoch_begin(self, epoch, logs=None):
        self._epoch, self._start = epoch, time.time()
        self.listener.on_epoch_begin(epoch)

    def on_train_batch_end(self, batch, logs=None):
        self.listener.on_batch_end(self._epoch, batch, _floats(logs))
        if self.cancel.cancelled:
            self.model.stop_training = True

    def on_epoch_end(self, epoch, logs=None):
        logs = _floats(logs) | {"learning_rate": float(self.model.optimizer.learning_rate.numpy()),
                                "seconds": time.time() - self._start}
        if self.cancel.cancelled:
            return  # a partial epoch is neither reported nor checkpointed
        self.listener.on_epoch_end(epoch, logs)


class _TimeBudget(keras.callbacks.Callback):
    """Fits training into `seconds`: after each epoch the plan becomes as many epochs as the time left
    allows at the fastest epoch's pace (the first ones also compile), capped at the epochs asked for;
    the learning-rate schedule follows the plan, so a shortened run still anneals."""

    def __init__(self, seconds: float, plan: dict):
        super().__init__()
        self.seconds, self.plan, self.most = seconds, plan, plan["epochs"]
        self._start = self._epoch_start = 0.0
        self._fastest = math.inf

    def on_train_begin(self, logs=None):
        self._start = time.time()

    def on_epoch_begin(self, epoch, logs=None):
        self._epoch_start = time.time()

    def on_epoch_end(self, epoch, logs=None):
        now = time.time()
        self._fastest = min(self._fastest, now - self._epoch_start)
        left = max(0.0, self.seconds - (now - self._start))
        self.plan["epochs"] = min(self.most, epoch + 1 + int(left // self._fastest))
        if epoch + 1 >= self.plan["epochs"]:
            self.model.stop_training = True


class _Checkpointer(keras.callbacks.Callback):
    """After each full epoch: last.keras (with optimizer state), best.keras and state.json."""

    def __init__(self, directory: Path, state: dict, cancel: CancelToken):
        super().__init__()
        self.directory, self.state, self.cancel = directory, state, cancel

    def on_epoch_end(self, epoch, logs=None):
        if self.cancel.cancelled:
            return
        logs = _floats(logs)
        self.state["history"].append({"epoch": epoch + 1} | logs)
        if logs.get("val_accuracy", -1) > self.state["best_val_accuracy"]:
            self.state |= {"best_val_accuracy": logs["val_accuracy"], "best_epoch": epoch + 1}
            self.model.save(self.directory / "best.keras")
        self.model.save(self.directory / "last.tmp.keras")
        (self.directory / "last.tmp.keras").replace(self.directory / "last.keras")
        self.state["epochs_done"] = epoch + 1
        (self.directory / "state.json").write_text(json.dumps(self.state, indent=2))


def train(
    config: TrainConfig,
    out: str | Path,
    resume: bool = False,
    listener: TrainingListener | None = None,
    cancel: CancelToken | None = None,
    command: str = "",
) -> dict:
    """Run training; returns a summary with the artifact path and its PublicTest/PrivateTest reports."""
    out, listener, cancel = Path(out), listener or TrainingListener(), cancel or CancelToken()
    if not 0 <= config.distill <= 1:
        raise FercoreError(f"--distill must be between 0 and 1, got {config.distill}.")
    if config.mixup < 0 or config.cutmix < 0:
        raise FercoreError("--mixup and --cutmix take a Beta alpha above 0 (0 switches them off).")
    _check_recipe(config)
    holdout = fer_data.holdout_fold(config.holdout) if config.holdout else None  # before the data is read
    strategy = make_strategy(config)  # first: TensorFlow fixes its devices at the first operation
    replicas = strategy.num_replicas_in_sync if strategy else 1
    keras.utils.set_random_seed(config.seed)
    splits = fer_data.load_fer2013(config.data)
    train_split = splits["train"].sample(config.subset, seed=config.seed)
    if holdout:
        train_split = train_split.without_fold(*holdout)
    hp = hyperparameters(config.arch, **(OPTIMIZER_DEFAULTS[config.optimizer] | config.hparams))

    ckpt = checkpoint_dir(out)
    state = _resume_state(ckpt, config) if resume else None
    with strategy.scope() if strategy else contextlib.nullcontext():  # variables mirrored on every replica
        if state:
            model = keras.models.load_model(ckpt / "last.keras")
            listener.message(f"Resuming {out.name} after epoch {state['epochs_done']} of {config.epochs}.")
        else:
            model = build_model(hp, config.precision, optimizer=config.optimizer,
                                input_size=config.crop or FACE_SIZE)
            if config.init_from:
                _copy_weights(config.init_from, model)
                listener.message(f"Starting from the weights of {config.init_from}.")
            state = {"config": asdict(config), "epochs_done": 0, "best_epoch": 0,
                     "best_val_accuracy": -1.0, "history": []}
    state.setdefault("commands", []).append(command)  # with --resume, the card lists every part of the run
    if replicas > 1:
        model.jit_compile = False  # XLA cannot reach a variable mirrored on another device
        listener.message(f"Training data-parallel on {replicas} replicas, {config.batch_size} faces per step "
                         f"in all ({strategy.__class__.__name__}).")
    ckpt.mkdir(parents=True, exist_ok=True)

    # a resumed run continues the same sequence of shuffles and augmentations
    train_batches = FaceBatches(train_split, config.batch_size, shuffle=True, augment=config.augment,
                                seed=config.seed, first_epoch=state["epochs_done"],
                                soft_targets=soft_targets(config.teachers, train_split) if config.teachers else None,
                                distill=config.distill, mixup=config.mixup, cutmix=config.cutmix, crop=config.crop)
    listener.on_run_begin({"arch": config.arch, "epochs": config.epochs, "initial_epoch": state["epochs_done"],
                           "train_size": len(train_split), "val_size": len(splits["public"]),
                           "steps_per_epoch": math.ceil(len(train_split) / config.batch_size),
                           "parameters": model.count_params()})
    started = time.time()
    plan = {"epochs": config.epochs}
    budget = [_TimeBudget(config.time_limit_s, plan)] if config.time_limit_s else []
    if state["epochs_done"] < config.epochs:
        model.fit(
            fit_input(train_batches),
            steps_per_epoch=len(train_batches),
            validation_data=FaceBatches(splits["public"], 256, crop=config.crop),
            epochs=config.epochs,
            initial_epoch=state["epochs_done"],
            class_weight=class_weights(train_split, config.class_weight),
            shuffle=False,  # FaceBatches orders each epoch itself, repeatably from the seed
            callbacks=[
                _schedule(config, hp.get("learning_rate"), plan),
                *budget,
                _Checkpointer(ckpt, state, cancel),
                ListenerBridge(listener, cancel),
                KeepFreedMemory(),
            ],
            verbose=0,
        )
    if state["best_epoch"] == 0:
        summary = {"cancelled": cancel.cancelled, "artifact": None, "epochs_done": 0}
        listener.on_run_end(summary)
        return summary

    listener.on_measure_begin()
    best = keras.models.load_model(ckpt / "best.keras")
    extra = {}
    if config.crop:  # the saved model takes a 48x48 face and reads its centre crop, as the app reads faces
        best = with_centre_crop(hp, best)
        extra["evaluation_ten_crop"] = test_readings(Predictor(best, ten_crop=True), splits)[0]
    summary = finish_artifact(
        best, out, splits, arch=config.arch, hyperparameters=hp.values,
        training={"command": command, "kind": "train", "config": asdict(config),
                  "epochs_done": state["epochs_done"], "best_epoch": state["best_epoch"],
                  "seconds_this_run": round(time.time() - started, 1), "history": state["history"],
                  "cancelled": cancel.cancelled,
                  "started_from_commands": _commands_before(config) + state["commands"][:-1],
                  "distribute": config.distribute, "replicas": replicas},
        train_faces_used=len(train_split), **extra,
    )
    summary |= {"epochs_done": state["epochs_done"], "best_epoch": state["best_epoch"], "cancelled": cancel.cancelled}
    summary |= extra
    listener.on_run_end(summary)
    return summary


def _check_recipe(config: TrainConfig) -> None:
    if config.crop is not None and not 8 <= config.crop < FACE_SIZE:
        raise FercoreError(f"--crop takes a side of 8 to {FACE_SIZE - 1} pixels (faces are {FACE_SIZE}x{FACE_SIZE}), "
                           f"got {config.crop}.")
    for name, value, choices in (("--optimizer", config.optimizer, OPTIMIZERS),
                                 ("--schedule", config.schedule, SCHEDULES),
                                 ("--plateau-monitor", config.plateau_monitor, PLATEAU_MONITORS)):
        if value not in choices:
            raise FercoreError(f"{name} is one of {', '.join(choices)}, got {value!r}.")
    if not 0 < config.plateau_factor < 1 or config.plateau_patience < 0:
        raise FercoreError("--plateau-factor is between 0 and 1, and --plateau-patience at least 0.")


def _schedule(config: TrainConfig, base: float, plan: dict) -> keras.callbacks.Callback:
    """The learning rate's course: cosine_lr over the planned epochs (shortened by a time limit), or a cut
    by plateau_factor whenever PublicTest's plateau_monitor has not improved for plateau_patience epochs."""
    if config.schedule == "plateau":
        return keras.callbacks.ReduceLROnPlateau(
            monitor=config.plateau_monitor, mode="max" if config.plateau_monitor == "val_accuracy" else "min",
            factor=config.plateau_factor, patience=config.plateau_patience, min_lr=base / 1000)
    return keras.callbacks.LearningRateScheduler(lambda epoch, _lr=None: cosine_lr(base, plan["epochs"])(epoch))


def make_strategy(config: TrainConfig):
    """MirroredStrategy over every local GPU (every logical CPU device when there is none);
    None without `distribute`."""
    if not config.distribute and config.cpu_devices is None:
        return None
    if keras.backend.backend() != "tensorflow":
        raise FercoreError("--distribute and --cpu-devices use tf.distribute: run them with the TensorFlow "
                           "backend (KERAS_BACKEND=tensorflow).")
    if config.distribute and _cluster_tasks() > 1:
        # Keras 3's fit breaks under MultiWorkerMirroredStrategy (it reduces nested batches and scalar
        # metrics in ways CollectiveAllReduce rejects; keras-team/keras#20585): refuse rather than crash.
        raise FercoreError("TF_CONFIG names several workers, but Keras 3 cannot train across machines with "
                           "MultiWorkerMirroredStrategy yet (keras-team/keras#20585). Unset TF_CONFIG to train "
                           "on this machine's devices.")
    if config.cpu_devices is not None:
        split_cpu(config.cpu_devices)
    if not config.distribute:
        return None
    import tensorflow as tf

    devices = tf.config.list_logical_devices("GPU") or tf.config.list_logical_devices("CPU")
    return tf.distribute.MirroredStrategy([d.name for d in devices])


def split_cpu(count: int) -> None:
    """Present the CPU as `count` logical devices, so that data-parallel code runs without GPUs."""
    import tensorflow as tf

    if count < 1:
        raise FercoreError(f"--cpu-devices must be at least 1, got {count}.")
    cpu = tf.config.list_physical_devices("CPU")[0]
    try:
        tf.config.set_logical_device_configuration(cpu, [tf.config.LogicalDeviceConfiguration()] * count)
    except RuntimeError:
        raise FercoreError("--cpu-devices must be set before TensorFlow starts: run training in a fresh "
                           "process (python -m fercore train ...).") from None


def _cluster_tasks() -> int:
    """How many chief and worker tasks TF_CONFIG names (0 without it)."""
    try:
        cluster = json.loads(os.environ.get("TF_CONFIG") or "{}").get("cluster", {})
    except (ValueError, AttributeError):
        raise FercoreError("TF_CONFIG is not a JSON object like {\"cluster\": {\"worker\": [...]}, "
                           "\"task\": {...}}.") from None
    return len(cluster.get("chief", [])) + len(cluster.get("worker", []))


def finish_artifact(model, out, splits, arch, hyperparameters, training, train_faces_used, **extra) -> dict:
    """Evaluate a trained model on PublicTest and PrivateTest and write it with its card
    (`extra`: more top-level card entries, e.g. a calibration)."""
    model = _float32_without_optimizer(model)
    evaluation, readings = test_readings(Predictor(model), splits)
    metadata = {
        "arch": arch,
        "hyperparameters": hyperparameters,
        "parameters": model.count_params(),
        "training": training,
        "data": {"fingerprint": fer_data.fingerprint(splits),
                 "sizes": {name: len(split) for name, split in splits.items()},
                 "train_faces_used": train_faces_used,
                 "selection_split": "public", "headline_split": "private"},
        "evaluation": evaluation,
    } | extra
    artifact = save_artifact(model, out, metadata)
    store_readings(artifact, splits, readings)
    return {"artifact": str(artifact), "evaluation": evaluation}


def _float32_without_optimizer(model: keras.Model) -> keras.Model:
    """A float32 copy holding only the weights: the optimizer state would triple the shipped file,
    and float32 keeps inference and heatmaps exact whatever precision training used."""
    config = model.get_config()  # clone_model would keep the compiled optimizer
    for layer in config["layers"]:
        layer["config"]["dtype"] = "float32"
    bare = keras.Model.from_config(config)
    bare.set_weights(model.get_weights())
    return bare


def _commands_before(config: TrainConfig) -> list[str]:
    """The commands that made the model it starts from, or its teachers (each command once, in order)."""
    commands = commands_that_made(read_metadata(config.init_from)) if config.init_from else []
    if config.teachers:
        commands += load_teachers(config.teachers)["commands"]
    return list(dict.fromkeys(commands))


def _copy_weights(path: str, model: keras.Model) -> None:
    source = load_artifact(path).model
    shapes = [tuple(w.shape) for w in source.weights]
    if shapes != [tuple(w.shape) for w in model.weights]:
        raise FercoreError(f"Cannot start from {path}: it is a different network "
                           f"({source.count_params():,} parameters, this one has {model.count_params():,}). "
                           "Use the same --arch and --set values it was trained with.")
    model.set_weights(source.get_weights())


def _resume_state(ckpt: Path, config: TrainConfig) -> dict | None:
    try:
        state = json.loads((ckpt / "state.json").read_text())
    except (OSError, ValueError):
        return None  # nothing to resume: start afresh
    if not (ckpt / "last.keras").is_file():
        return None
    saved = state.get("config", {})
    for key in ("arch", "batch_size", "subset", "seed", "hparams", "holdout", "crop", "optimizer"):
        if saved.get(key, getattr(TrainConfig, key, None)) != asdict(config)[key]:  # an older state lacks new keys
            raise FercoreError(f"Cannot resume: the checkpoint in {ckpt} was trained with {key}={saved.get(key)!r}, "
                               f"this run asks for {asdict(config)[key]!r}. Use the same settings or drop --resume.")
    return state


def _floats(logs) -> dict:
    return {k: float(v) for k, v in (logs or {}).items()}
