"""Training on several devices and Hyperband on several workers. Everything runs as `python -m fercore`
subprocesses: logical devices must be set before TensorFlow starts, and keras-tuner's chief and
workers are processes of their own."""
import json
import re
import socket
import subprocess
import sys
from collections import defaultdict
from pathlib import Path

import numpy as np
import pytest

from conftest import write_folder_dataset
from fercore.artifact import load_artifact, read_metadata
from fercore.data import load_fer2013
from fercore.errors import FercoreError
from fercore.train import TrainConfig, make_strategy, train

TINY_NET = ["--arch", "seed", "--set", "filters=8", "--set", "dense_units=16"]


@pytest.fixture(scope="module")
def faces(tmp_path_factory):
    """280 Training faces, 70 in each test split: enough for accuracy to mean something, still quick."""
    root = tmp_path_factory.mktemp("fer") / "fer2013"
    write_folder_dataset(root, n_per_class=(40, 10, 10))
    load_fer2013(root)  # fills the cache first, so that processes started together only read it
    return root


def start(*args) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "fercore", *map(str, args)], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)


def finish(process: subprocess.Popen) -> tuple[int, str, str]:
    try:
        out, err = process.communicate(timeout=300)
    finally:
        process.kill()
    return process.returncode, out, err


def processes_mentioning(text: str) -> list[str]:
    """Command lines of live processes that name `text` (a test's own temporary folder)."""
    found = []
    for cmdline in Path("/proc").glob("[0-9]*/cmdline"):
        try:
            line = cmdline.read_bytes().replace(b"\0", b" ").decode(errors="replace")
        except OSError:
            continue  # ended meanwhile
        if text in line:
            found.append(line)
    return found


def test_two_cpu_devices_train_the_same_model_as_one(faces, tmp_path):
    # 256 faces in steps of 16: no partial batch, so XLA compiles the one-device run once
    settings = dict(arch="seed", hparams={"filters": 8, "dense_units": 16}, epochs=2, subset=256, batch_size=16)
    two = start("train", *TINY_NET, "--epochs", 2, "--subset", 256, "--batch-size", 16, "--data", faces,
                "--distribute", "--cpu-devices", 2, "--out", tmp_path / "two.keras")
    train(TrainConfig(data=str(faces), **settings), tmp_path / "one.keras")  # meanwhile, on one device here
    code, out, err = finish(two)
    assert code == 0, err[-3000:]
    assert "data-parallel on 2 replicas" in out

    single, double = read_metadata(tmp_path / "one.keras"), read_metadata(tmp_path / "two.keras")
    assert (single["training"]["replicas"], double["training"]["replicas"]) == (1, 2)
    assert double["training"]["distribute"] is True and double["training"]["config"]["cpu_devices"] == 2
    # the global batch is split over the replicas and the learning rate stays: the same run up to rounding
    for key in ("loss", "learning_rate"):
        np.testing.assert_allclose([e[key] for e in double["training"]["history"]],
                                   [e[key] for e in single["training"]["history"]], rtol=1e-3)
    public = [card["evaluation"]["public"]["accuracy"] for card in (single, double)]
    assert abs(public[0] - public[1]) <= 3 / 70, public  # within noise: three faces of 70
    assert load_artifact(tmp_path / "two.keras").model.count_params() == single["parameters"]


def test_training_across_machines_is_refused_with_a_reason(monkeypatch):
    cluster = {"cluster": {"worker": ["10.0.0.1:2222", "10.0.0.2:2222"]}, "task": {"type": "worker", "index": 0}}
    monkeypatch.setenv("TF_CONFIG", json.dumps(cluster))
    with pytest.raises(FercoreError, match="MultiWorkerMirroredStrategy"):
        make_strategy(TrainConfig(distribute=True))  # refused before TensorFlow's devices are touched


def test_a_chief_and_two_workers_share_one_search_and_save_the_best(faces, tmp_path):
    tuning = tmp_path / "tuning"
    code, out, err = finish(start("tune", "--workers", 2, "--arch", "seed", "--max-epochs", 2, "--factor", 3,
                                  "--subset", 64, "--directory", tuning, "--out", tmp_path / "tuned.keras",
                                  "--data", faces))
    assert code == 0, err[-3000:] + out[-3000:]

    by_worker = defaultdict(list)
    for worker, trial in re.findall(r"^\[(tuner\d)\] trial (\d+):", out, re.MULTILINE):
        by_worker[worker].append(trial)
    assert sorted(by_worker) == ["tuner0", "tuner1"], out  # the trials were shared
    started = [trial for trials in by_worker.values() for trial in trials]
    assert len(started) == len(set(started))  # no trial ran twice
    assert sorted(started) == sorted(p.name.removeprefix("trial_") for p in (tuning / "hyperband").glob("trial_*"))

    card = read_metadata(tmp_path / "tuned.keras")  # saved by the chief, as a single process saves it
    assert card["training"]["kind"] == "hyperband" and card["training"]["trials"] == len(started)
    assert card["training"]["config"]["workers"] == 2 and card["training"]["best_trial"] in started
    assert load_artifact(tmp_path / "tuned.keras").model.count_params() == card["parameters"]
    assert not processes_mentioning(str(tmp_path))


def test_a_failing_chief_is_one_line_and_takes_its_worker_down(faces, tmp_path):
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        code, out, err = finish(start("tune", "--workers", 1, "--oracle", f"127.0.0.1:{port}", "--arch", "seed",
                                      "--subset", 64, "--directory", tmp_path / "tuning",
                                      "--out", tmp_path / "tuned.keras", "--data", faces))
    assert code == 2 and "Traceback" not in err
    assert err.strip().splitlines()[-1].startswith(f"error: chief failed (exit 2): The chief cannot serve the "
                                                   f"search at 127.0.0.1:{port}")
    assert not processes_mentioning(str(tmp_path))  # its worker, waiting for the chief, was ended
