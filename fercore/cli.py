"""python -m fercore {data,train,teachers,tune,evaluate,calibrate,card,predict,export-onnx} ...

Heavy modules (TensorFlow) are imported inside each command so `--help` answers at once.
"""
from __future__ import annotations

import argparse
import json
import os
import shlex
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

from fercore.errors import FercoreError
from fercore.labels import EMOTIONS
from fercore.training_events import TrainingListener


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    try:
        return args.run(args) or 0
    except FercoreError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("\nstopped.", file=sys.stderr)
        return 130


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m fercore", description="FER2013 emotion models.")
    sub = parser.add_subparsers(required=True, metavar="COMMAND")

    p = sub.add_parser("data", help="check the dataset and show split and class counts")
    p.add_argument("--data", help="FER2013 folder or fer2013.csv (default: $FER_DATA or data/fer2013)")
    p.add_argument("--import", dest="import_file", metavar="FILE",
                   help="first unpack and check a FER2013 download (Kaggle zip, fer2013.tar.gz or fer2013.csv) "
                        "into the --data folder, replacing the dataset there")
    p.set_defaults(run=_data)

    p = sub.add_parser("train", help="train a CNN; keeps the best epoch on PublicTest")
    p.add_argument("--arch", choices=["seed", "default", "vgg"], default="default",
                   help="vgg: a larger VGG-style teacher (11-14M parameters), not for the app")
    p.add_argument("--epochs", type=int, default=30)
    p.add_argument("--batch-size", type=int, default=64)
    p.add_argument("--subset", type=int, help="train on a random sample of K Training faces")
    p.add_argument("--augment", type=float, default=1.0, help="augmentation strength, 0 = off (default 1)")
    p.add_argument("--class-weight", choices=["none", "sqrt", "balanced"], default="sqrt")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--set", action="append", default=[], metavar="NAME=VALUE",
                   help="override a hyperparameter, e.g. --set filters=48 --set dropout=0.3")
    p.add_argument("--precision", choices=["float32", "mixed_bfloat16"], default="float32",
                   help="mixed_bfloat16 trains faster on CPUs with AVX512-BF16; the saved model is float32")
    p.add_argument("--init-from", metavar="MODEL.keras", help="start from a trained model of the same network")
    p.add_argument("--distribute", action="store_true",
                   help="data-parallel with tf.distribute on every GPU of this machine (every CPU device without "
                        "one); --batch-size stays the batch of one step over all of them")
    p.add_argument("--cpu-devices", type=int, metavar="N",
                   help="split the CPU into N logical devices, to try --distribute on a machine without GPUs")
    p.add_argument("--time-limit", type=float, metavar="MINUTES",
                   help="fit the run into this time: fewer epochs if need be, the learning rate still annealed")
    p.add_argument("--teachers", metavar="FILE.npz",
                   help="distil: learn from these teachers' readings as well as the labels (see `teachers`)")
    p.add_argument("--distill", type=float, default=0.8,
                   help="with --teachers: the weight of their reading against the label, 0-1 (default 0.8)")
    p.add_argument("--mixup", type=float, default=0.0, metavar="ALPHA",
                   help="blend training faces and their labels in pairs (mixup), by a share drawn from "
                        "Beta(ALPHA, ALPHA); 0 = off")
    p.add_argument("--cutmix", type=float, default=0.0, metavar="ALPHA",
                   help="paste a box of another face and its share of the label (CutMix); with --mixup, one of "
                        "the two per batch")
    p.add_argument("--holdout", metavar="K/N",
                   help="leave fold K of N out of Training (faces split by id), so that `teachers` reads that "
                        "fold with a model that never saw it")
    p.add_argument("--crop", type=int, metavar="SIDE",
                   help="train on random SIDE x SIDE crops of each 48x48 face (e.g. 44); the saved model reads the "
                        "centre crop of a 48x48 face, and `evaluate --ten-crop` reads ten crops (default: whole faces)")
    p.add_argument("--optimizer", choices=["adamw", "sgd-nesterov"], default="adamw",
                   help="sgd-nesterov: SGD with Nesterov momentum 0.9, learning rate 1e-2 unless --set "
                        "learning_rate=... (default adamw)")
    p.add_argument("--schedule", choices=["cosine", "plateau"], default="cosine",
                   help="plateau: cut the learning rate when PublicTest stops improving (ReduceLROnPlateau) "
                        "instead of warm-up and cosine decay (default cosine)")
    p.add_argument("--plateau-monitor", choices=["val_accuracy", "val_loss"], default="val_accuracy",
                   help="with --schedule plateau: PublicTest's accuracy (default) or loss")
    p.add_argument("--plateau-factor", type=float, default=0.5, help="with --schedule plateau: the cut (default 0.5)")
    p.add_argument("--plateau-patience", type=int, default=5,
                   help="with --schedule plateau: epochs without improvement before a cut (default 5)")
    p.add_argument("--resume", action="store_true", help="continue from the last checkpoint of --out")
    p.add_argument("--out", default="models/model.keras")
    p.add_argument("--data")
    p.set_defaults(run=_train)

    p = sub.add_parser("tune", help="keras-tuner Hyperband search, objective PublicTest accuracy")
    p.add_argument("--max-epochs", type=int, default=6)
    p.add_argument("--factor", type=int, default=3)
    p.add_argument("--subset", type=int, default=3000, help="Training faces per trial (default 3000)")
    p.add_argument("--time-budget", type=float, help="minutes; no new trial starts after this")
    p.add_argument("--arch", choices=["seed", "default"], help="fix the architecture (default: search it)")
    p.add_argument("--directory", default="models/tuning", help="tuner state; an existing one is continued")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--workers", type=int, metavar="N",
                   help="run the search in parallel: a chief process holding the oracle and N worker processes "
                        "running trials (keras-tuner's distributed mode)")
    p.add_argument("--oracle", metavar="HOST:PORT",
                   help="with --workers: where the chief serves the search (default 127.0.0.1 and a free port; "
                        "0.0.0.0:PORT lets workers on other machines join)")
    p.add_argument("--out", default="models/tuned.keras")
    p.add_argument("--data")
    p.set_defaults(run=_tune)

    p = sub.add_parser("teachers", help="several models' readings of the Training faces, for train --teachers")
    p.add_argument("sources", nargs="+", metavar="MODEL.keras|FILE.npz", help="trained models, or earlier files to merge")
    p.add_argument("--out", required=True, metavar="FILE.npz")
    _add_ten_crop_option(p)
    p.add_argument("--data")
    p.set_defaults(run=_teachers)

    p = sub.add_parser("evaluate", help="accuracy, macro-F1, per-class scores, confusion matrix")
    p.add_argument("model")
    p.add_argument("--split", choices=["public", "private"], default="private")
    _add_tta_option(p)
    _add_ten_crop_option(p)
    p.add_argument("--json", action="store_true")
    p.add_argument("--record", action="store_true",
                   help="evaluate both PublicTest and PrivateTest and store them in the model's JSON (its card; "
                        "with --ten-crop, as its evaluation_ten_crop)")
    p.add_argument("--data")
    p.set_defaults(run=_evaluate)

    p = sub.add_parser("calibrate", help="per-emotion score offsets, tuned on PublicTest, for a recall floor")
    p.add_argument("model")
    p.add_argument("--min-recall", type=float, default=0.45, help="every emotion's PublicTest recall (default 0.45)")
    p.add_argument("--out", required=True, metavar="OUT.keras")
    p.add_argument("--data")
    p.set_defaults(run=_calibrate)

    p = sub.add_parser("card", help="write a model card (markdown + confusion image) from a model's JSON")
    p.add_argument("model")
    p.add_argument("--out", default="models/README.md")
    p.set_defaults(run=_card)

    p = sub.add_parser("predict", help="every face in photos (or face crops): emotion probabilities")
    p.add_argument("model")
    p.add_argument("images", nargs="+", metavar="IMAGE")
    _add_tta_option(p)
    _add_ten_crop_option(p)
    p.add_argument("--json", action="store_true")
    p.add_argument("--heatmap", metavar="OUT.png", help="save the photo with boxes and heatmaps "
                   "(with several photos: OUT-1.png, OUT-2.png, ...)")
    p.set_defaults(run=_predict)

    p = sub.add_parser("export-onnx", help="the model as an ONNX file (faces in, probabilities out, any batch "
                                           "size), for onnxruntime or a browser")
    p.add_argument("--model", metavar="MODEL.keras", help="default: the model the app uses")
    p.add_argument("--out", required=True, metavar="OUT.onnx",
                   help="kept as it is when it already holds the export of this very model file")
    p.set_defaults(run=_export_onnx)
    return parser


def _add_tta_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--tta", action=argparse.BooleanOptionalAction, default=True,
                        help="average each face with its mirror image, as the app does (default); --no-tta: one pass")


def _add_ten_crop_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--ten-crop", action="store_true",
                        help="for a model trained with --crop: read each face as ten crops (four corners and the "
                             "centre, of the face and of its mirror image) and average them; the app reads the "
                             "centre crop and its mirror")


def _data(args) -> int:
    from fercore.data import EXPECTED_SIZES, load_fer2013, resolve_data_path

    if args.import_file:
        from fercore.data_import import import_dataset

        shown = {"step": -1, "stage": ""}

        def show(fraction: float, text: str) -> None:  # a line per further 10% or new stage, not per call
            stage = text.split()[0].rstrip(":")
            if int(fraction * 10) > shown["step"] or stage != shown["stage"]:
                shown.update(step=int(fraction * 10), stage=stage)
                print(f"{fraction:4.0%}  {text}", file=sys.stderr, flush=True)

        result = import_dataset(args.import_file, resolve_data_path(args.data), progress=show)
        print(f"imported {args.import_file} ({result['form']}) into {result['path']}", file=sys.stderr)
    started = time.time()
    splits = load_fer2013(args.data)
    print(f"FER2013 at {resolve_data_path(args.data)} (loaded in {time.time() - started:.1f} s)")
    print(f"{'split':<9}{'faces':>7}  " + " ".join(f"{e[:7]:>8}" for e in EMOTIONS))
    for name, split in splits.items():
        note = "" if len(split) == EXPECTED_SIZES[name] else f"  (official: {EXPECTED_SIZES[name]})"
        print(f"{name:<9}{len(split):>7}  " + " ".join(f"{c:>8}" for c in split.class_counts()) + note)
    return 0


def _parse_overrides(pairs: list[str]) -> dict:
    overrides = {}
    for pair in pairs:
        name, sep, value = pair.partition("=")
        if not sep:
            raise FercoreError(f"--set expects NAME=VALUE, got '{pair}'.")
        try:
            overrides[name] = json.loads(value)
        except ValueError:
            overrides[name] = value
    return overrides


class _PrintProgress(TrainingListener):
    """Prints one line per epoch (and resumption notes) to the terminal."""

    def on_run_begin(self, info):
        print(f"training {info['arch']} ({info['parameters']:,} parameters) on {info['train_size']} faces, "
              f"validating on PublicTest ({info['val_size']}), epochs {info['initial_epoch'] + 1}-{info['epochs']}",
              flush=True)

    def on_epoch_end(self, epoch, logs):
        print(f"epoch {epoch + 1:>3}  loss {logs['loss']:.4f}  acc {logs['accuracy']:.4f}  "
              f"public acc {logs.get('val_accuracy', float('nan')):.4f}  lr {logs['learning_rate']:.2e}  "
              f"{logs['seconds']:.0f}s", flush=True)

    def on_measure_begin(self):
        print("measuring the kept model on PublicTest and PrivateTest, each face read twice (as it is and mirrored)",
              flush=True)

    def message(self, text):
        print(text, flush=True)


def _train(args) -> int:
    from fercore.evaluate import format_report
    from fercore.train import TrainConfig, train

    config = TrainConfig(arch=args.arch, epochs=args.epochs, batch_size=args.batch_size, subset=args.subset,
                         augment=args.augment, class_weight=args.class_weight, seed=args.seed,
                         hparams=_parse_overrides(args.set), data=args.data, precision=args.precision,
                         init_from=args.init_from, distribute=args.distribute, cpu_devices=args.cpu_devices,
                         teachers=args.teachers, distill=args.distill, mixup=args.mixup, cutmix=args.cutmix,
                         holdout=args.holdout, crop=args.crop, optimizer=args.optimizer, schedule=args.schedule,
                         plateau_monitor=args.plateau_monitor, plateau_factor=args.plateau_factor,
                         plateau_patience=args.plateau_patience,
                         time_limit_s=args.time_limit * 60 if args.time_limit else None)
    summary = train(config, args.out, resume=args.resume, listener=_PrintProgress(), command=_command_line())
    if summary["artifact"] is None:
        print("stopped before the first epoch finished: nothing saved.")
        return 1
    print(f"\nbest epoch {summary['best_epoch']} saved to {summary['artifact']}\n")
    for name in ("public", "private"):
        print(format_report(summary["evaluation"][name]) + "\n")
    if "evaluation_ten_crop" in summary:
        print("read as ten crops: " + ", ".join(f"{name} accuracy {report['accuracy']:.4f}"
                                                 for name, report in summary["evaluation_ten_crop"].items()))
    return 0


def _teachers(args) -> int:
    from fercore.data import load_fer2013
    from fercore.teachers import public_accuracies, read_teachers, save_teachers

    splits = load_fer2013(args.data, splits=("train", "public"))
    readings = read_teachers(args.sources, splits, command=_command_line(), ten_crop=args.ten_crop)
    reading = "each face read as ten crops" if args.ten_crop else "as the app reads faces"
    print(f"wrote {save_teachers(args.out, readings)}\nPublicTest accuracy, {reading}:")
    for name, accuracy in public_accuracies(readings, splits["public"].labels).items():
        print(f"  {name:<24}{accuracy:.4f}")
    return 0


class _PrintTrials(_PrintProgress):
    def on_run_begin(self, info):
        earlier = "" if info.get("role") == "worker" else f" ({len(info['previous_trials'])} earlier trials)"
        print(f"Hyperband: max {info['max_epochs']} epochs, factor {info['factor']}, {info['train_size']} faces "
              f"per trial, objective PublicTest accuracy{earlier}", flush=True)

    def on_trial_begin(self, trial_id, hyperparameters):
        settings = ", ".join(f"{k}={v}" for k, v in hyperparameters.items() if not k.startswith("tuner/"))
        print(f"trial {trial_id}: {settings}", flush=True)

    def on_trial_end(self, trial_id, score):
        print(f"trial {trial_id} done: PublicTest accuracy {score if score is None else round(score, 4)}", flush=True)


def _tune(args) -> int:
    if args.workers is not None and "KERASTUNER_ORACLE_IP" not in os.environ:
        return _tune_in_parallel(args)  # without TensorFlow: this process only starts and watches the others
    from fercore.evaluate import format_report
    from fercore.tune import TuneConfig, tune

    config = TuneConfig(max_epochs=args.max_epochs, factor=args.factor, subset=args.subset,
                        time_budget_s=args.time_budget * 60 if args.time_budget else None, arch=args.arch,
                        seed=args.seed, directory=args.directory, data=args.data, workers=args.workers)
    summary = tune(config, args.out, listener=_PrintTrials(), command=_command_line())
    if summary.get("worker"):
        print(f"{summary['worker']} done: ran trials {', '.join(summary['trials_run']) or 'none'}.")
        return 0
    if summary["artifact"] is None:
        print("no trial finished: nothing saved.")
        return 1
    print(f"\nbest trial {summary['best_trial']} saved to {summary['artifact']}\n")
    print(format_report(summary["evaluation"]["public"]))
    return 0


def _tune_in_parallel(args) -> int:
    """A chief and `--workers` worker processes, each this same command line told its part by keras-tuner's
    variables. Their output is relayed line by line, and none outlives this process."""
    if args.workers < 1:
        raise FercoreError(f"--workers must be at least 1, got {args.workers}.")
    bind_host, port = _oracle_address(args.oracle)
    connect_host = "127.0.0.1" if bind_host in ("0.0.0.0", "::", "[::]") else bind_host
    logs = Path(args.directory) / "logs"
    logs.mkdir(parents=True, exist_ok=True)
    print(f"parallel Hyperband: chief serving at {bind_host}:{port}, {args.workers} workers; logs in {logs}",
          flush=True)
    if connect_host != bind_host:
        print(f"workers on other machines join with KERASTUNER_TUNER_ID=<a new name> KERASTUNER_ORACLE_IP=<this "
              f"machine> KERASTUNER_ORACLE_PORT={port} and these same tune options (docs/distributed.md)", flush=True)
    roles = {"chief": bind_host} | {f"tuner{i}": connect_host for i in range(args.workers)}
    processes, relays = {}, []
    previous_sigterm = signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))  # so that `finally` runs
    try:
        for name, host in roles.items():
            processes[name] = _start_tuner(name, host, port, logs / f"{name}.log")
        for name, process in processes.items():  # threads only now: Popen's preexec_fn must not meet them
            relays.append(threading.Thread(target=_relay, args=(name, process.stdout), daemon=True))
            relays[-1].start()
        _wait_for_all(processes, logs)
    finally:
        _stop_all(processes.values())
        for relay in relays:  # their last lines (the chief's report) before this process ends
            relay.join(timeout=5)
        signal.signal(signal.SIGTERM, previous_sigterm)
    return 0


def _oracle_address(address: str | None) -> tuple[str, int]:
    host, _, port = (address or "127.0.0.1:0").rpartition(":")
    if not host or not port.isdigit():
        raise FercoreError(f"--oracle expects HOST:PORT, e.g. 0.0.0.0:8000, got '{address}'.")
    if int(port):
        return host, int(port)
    try:
        with socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET) as probe:
            probe.bind((host.strip("[]"), 0))  # port 0: the system picks a free one
            return host, probe.getsockname()[1]
    except OSError as exc:
        raise FercoreError(f"--oracle: cannot serve at {host} on this machine ({exc.strerror or exc}).") from None


def _start_tuner(name: str, host: str, port: int, log: Path) -> subprocess.Popen:
    env = os.environ | {"KERASTUNER_TUNER_ID": name, "KERASTUNER_ORACLE_IP": host,
                        "KERASTUNER_ORACLE_PORT": str(port), "PYTHONUNBUFFERED": "1"}
    with open(log, "w") as stderr:
        return subprocess.Popen([sys.executable, "-m", "fercore", *sys.argv[1:]], env=env, stdout=subprocess.PIPE,
                                stderr=stderr, text=True, start_new_session=True, preexec_fn=_die_with_parent())


def _die_with_parent():
    """For the child: end with SIGTERM if this process dies, even by SIGKILL (Linux)."""
    if sys.platform != "linux":
        return None
    import ctypes

    prctl = ctypes.CDLL(None, use_errno=True).prctl
    return lambda: prctl(1, signal.SIGTERM)  # 1: PR_SET_PDEATHSIG


def _relay(name: str, stream) -> None:
    for line in stream:
        print(f"[{name}] {line}", end="", flush=True)


def _wait_for_all(processes: dict, logs: Path) -> None:
    """Until every process has ended well; the first to fail ends the search."""
    while True:
        codes = {name: process.poll() for name, process in processes.items()}
        for name, code in codes.items():
            if code:  # not None (running) nor 0
                raise FercoreError(f"{name} failed (exit {code}): {_last_error(logs / f'{name}.log')}")
        if all(code == 0 for code in codes.values()):
            return
        time.sleep(0.5)


def _last_error(log: Path) -> str:
    lines = [line.strip() for line in log.read_text(errors="replace").splitlines() if line.strip()]
    errors = [line for line in lines if line.startswith("error:")]
    return (errors or lines or ["no message; see " + str(log)])[-1].removeprefix("error: ")[:300]


def _stop_all(processes) -> None:
    running = [process for process in processes if process.poll() is None]
    for process in running:
        process.terminate()
    for process in running:
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def _evaluate(args) -> int:
    from fercore.data import load_fer2013, load_split
    from fercore.evaluate import evaluate, format_report, record_evaluation
    from fercore.predict import Predictor

    if args.record:
        evaluation = record_evaluation(args.model, load_fer2013(args.data), tta=args.tta, ten_crop=args.ten_crop)
        print(json.dumps(evaluation) if args.json else "\n\n".join(map(format_report, evaluation.values())))
        return 0
    predictor = Predictor.from_path(args.model, ten_crop=args.ten_crop)
    result = evaluate(predictor, load_split(args.split, args.data), tta=args.tta)
    print(json.dumps(result) if args.json else format_report(result))
    return 0


def _calibrate(args) -> int:
    from fercore.calibrate import calibrate
    from fercore.evaluate import format_report

    summary = calibrate(args.model, args.out, args.min_recall, args.data, command=_command_line())
    print("offsets: " + ", ".join(f"{e} {o:+.2f}" for e, o in zip(EMOTIONS, summary["offsets"])))
    print(f"saved to {summary['artifact']}\n")
    for name in ("public", "private"):
        print(format_report(summary["evaluation"][name]) + "\n")
    return 0


def _command_line() -> str:
    # a model trained on another Keras backend (JAX on a GPU machine) records how to repeat that
    backend = os.environ.get("KERAS_BACKEND", "tensorflow")
    prefix = "" if backend == "tensorflow" else f"KERAS_BACKEND={shlex.quote(backend)} "
    return prefix + "python -m fercore " + " ".join(shlex.quote(a) for a in sys.argv[1:])


def _card(args) -> int:
    from fercore.card import write_card

    print(f"wrote {write_card(args.model, args.out)}")
    return 0


def _predict(args) -> int:
    from pathlib import Path

    from fercore.errors import ImageError
    from fercore.photo import analyse_photo, heatmaps_on_photo
    from fercore.predict import Predictor

    predictor = Predictor.from_path(args.model, ten_crop=args.ten_crop)
    rows, failures = [], 0
    for number, path in enumerate(args.images, start=1):
        try:
            analysis = analyse_photo(_read_bytes(path), predictor, classify_whole_if_none=True, tta=args.tta)
        except ImageError as exc:
            failures += 1
            rows.append({"image": path, "error": str(exc)})
            continue
        rows.append({"image": path, "whole_image": analysis.whole_image, "faces": [
            {"face": r.number, "box": list(r.face.box), "landmarks": _landmarks(r.face), "tilt": r.face.tilt,
             "emotion": r.emotion, "confidence": r.confidence,
             "probabilities": {e: round(float(p), 4) for e, p in zip(EMOTIONS, r.probabilities)}}
            for r in analysis.faces]})
        if args.heatmap:
            out = Path(args.heatmap)
            out = out if len(args.images) == 1 else out.with_name(f"{out.stem}-{number}{out.suffix}")
            _write_png(out, heatmaps_on_photo(analysis))
    print(json.dumps(rows) if args.json else "\n".join(_describe_row(row) for row in rows))
    return 1 if failures else 0


def _export_onnx(args) -> int:
    from fercore.onnx_export import export_onnx
    from fercore.registry import active_model_path

    model = args.model or active_model_path()
    result = export_onnx(model, args.out)
    size = f"{result.path.stat().st_size / 1e6:.1f} MB"
    if result.cached:
        print(f"{result.path} ({size}) is already the export of {model} (digest {result.model_digest}); kept")
    else:
        print(f"exported {model} (digest {result.model_digest}) to {result.path} ({size}) in {result.seconds:.1f} s")
    return 0


def _landmarks(face) -> dict:
    """Named points in photo pixels (the person's right eye shows on the photo's left); empty
    when the whole image was read as one face."""
    names = ("right_eye", "left_eye", "nose_tip", "right_mouth_corner", "left_mouth_corner")
    return {name: list(point) for name, point in zip(names, face.landmarks)}


def _read_bytes(path) -> bytes:
    from fercore.errors import ImageError

    try:
        with open(path, "rb") as handle:
            return handle.read()
    except OSError as exc:
        raise ImageError(f"Cannot read {path}: {exc.strerror}.") from None


def _write_png(path, rgb) -> None:
    from PIL import Image

    Image.fromarray(rgb).save(path)


def _describe_row(row: dict) -> str:
    if "error" in row:
        return f"{row['image']}: {row['error']}"
    if not row["faces"]:
        return f"{row['image']}: no face found"
    note = " (no face found: read the whole image as one face)" if row["whole_image"] else ""
    lines = [f"{row['image']}{note}"]
    for face in row["faces"]:
        top = sorted(face["probabilities"].items(), key=lambda kv: -kv[1])[:3]
        lines.append(f"  face {face['face']} at {face['box']}: {face['confidence']}  ("
                     + ", ".join(f"{e} {p:.0%}" for e, p in top) + ")")
    return "\n".join(lines)
