"""The command line as a user meets it: clear messages, never a traceback."""
import json
import shutil
import subprocess
import sys

import cv2
import keras
import numpy as np
import pytest

from fercore.artifact import save_artifact
from fercore.labels import EMOTIONS
from fercore.model import build_model, hyperparameters


def fercore(*args, env=None):
    return subprocess.run([sys.executable, "-m", "fercore", *map(str, args)], capture_output=True, text=True,
                          timeout=300, env=env)


@pytest.fixture(scope="module")
def tiny_model(tmp_path_factory):
    keras.utils.set_random_seed(0)
    model = build_model(hyperparameters("seed", filters=8, dense_units=16))
    return save_artifact(model, tmp_path_factory.mktemp("models") / "tiny.keras", {"arch": "seed"})


def test_data_command_shows_split_and_class_counts(folder_dataset):
    result = fercore("data", "--data", folder_dataset[0])
    assert result.returncode == 0, result.stderr
    assert "train" in result.stdout and "private" in result.stdout and "disgust" in result.stdout


def test_wrong_dataset_path_is_one_clear_message(tmp_path):
    result = fercore("data", "--data", tmp_path / "missing")
    assert result.returncode == 2
    assert "does not exist" in result.stderr and "Kaggle" in result.stderr
    assert "Traceback" not in result.stderr


def test_missing_model_is_one_clear_message(tmp_path, folder_dataset):
    result = fercore("evaluate", tmp_path / "none.keras", "--data", folder_dataset[0])
    assert result.returncode == 2 and "No model file" in result.stderr and "Traceback" not in result.stderr


def test_evaluate_json_has_the_documented_keys(tiny_model, folder_dataset):
    result = fercore("evaluate", tiny_model, "--split", "public", "--json", "--data", folder_dataset[0])
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    assert report["n"] == 14 and report["tta"] is True and report["split"] == "public"  # the app's reading
    assert set(report["per_class"]) == set(EMOTIONS)
    assert all({"precision", "recall", "f1"} <= set(m) for m in report["per_class"].values())
    assert len(report["confusion"]) == 7 and sum(map(sum, report["confusion"])) == 14
    assert 0 <= report["ece"] <= 1 and len(report["reliability"]) == 15  # 15 equal-width confidence bins
    assert sum(row["count"] for row in report["reliability"]) == 14


def test_evaluate_record_stores_both_splits_in_the_card(tiny_model, folder_dataset, tmp_path):
    model = tmp_path / "m.keras"
    shutil.copy(tiny_model, model)
    shutil.copy(tiny_model.with_suffix(".json"), model.with_suffix(".json"))
    result = fercore("evaluate", model, "--record", "--no-tta", "--data", folder_dataset[0])
    assert result.returncode == 0, result.stderr
    evaluation = json.loads(model.with_suffix(".json").read_text())["evaluation"]
    assert {name: (report["n"], report["tta"]) for name, report in evaluation.items()} == {
        "public": (14, False), "private": (14, False)}
    assert all("ece" in report and len(report["reliability"]) == 15 for report in evaluation.values())
    assert "split: public" in result.stdout and "split: private" in result.stdout


def test_a_model_trained_on_another_keras_backend_records_it(monkeypatch):
    from fercore import cli

    monkeypatch.setenv("KERAS_BACKEND", "jax")
    monkeypatch.setattr(sys, "argv", ["fercore", "train", "--epochs", "3"])
    assert cli._command_line() == "KERAS_BACKEND=jax python -m fercore train --epochs 3"


def test_predict_reports_each_image_and_names_bad_ones(tiny_model, tmp_path):
    face_crop = tmp_path / "face.png"
    cv2.imwrite(str(face_crop), np.random.default_rng(0).integers(0, 255, (120, 96, 3), dtype=np.uint8))
    broken = tmp_path / "broken.jpg"
    broken.write_bytes(b"not an image")
    heatmap = tmp_path / "heat.png"
    result = fercore("predict", tiny_model, face_crop, broken, "--json", "--heatmap", heatmap)
    assert result.returncode == 1  # one image failed
    rows = json.loads(result.stdout)
    assert rows[0]["whole_image"] is True  # no face detected in noise: read as one face crop
    face = rows[0]["faces"][0]
    assert face["emotion"] in EMOTIONS and sum(face["probabilities"].values()) == pytest.approx(1, abs=1e-3)
    assert "not an image" in rows[1]["error"]
    written = cv2.imread(str(tmp_path / "heat-1.png"))
    assert written is not None and written.shape[:2] == (120, 96)


def test_predict_gives_each_face_its_box_landmarks_and_tilt_in_reading_order(tiny_model, tmp_path, real_data_path):
    from test_faces import findable, noisy_canvas, paste, public_faces

    canvas = noisy_canvas(900, 700)
    right, left = findable(public_faces(real_data_path, 30), 2)
    paste(canvas, right, 550, 80, 160)  # higher, so number 1 although further right
    paste(canvas, left, 80, 400, 160)
    photo = tmp_path / "two.png"
    cv2.imwrite(str(photo), canvas)
    faces = json.loads(fercore("predict", tiny_model, photo, "--json").stdout)[0]["faces"]
    assert [face["box"][0] > 450 for face in faces] == [True, False]
    for face in faces:
        x, y, w, h = face["box"]
        points = face["landmarks"]
        assert list(points) == ["right_eye", "left_eye", "nose_tip", "right_mouth_corner", "left_mouth_corner"]
        assert all(x <= px <= x + w and y <= py <= y + h for px, py in points.values())
        assert abs(face["tilt"]) < 20


def test_predict_on_a_missing_file_says_so(tiny_model, tmp_path):
    result = fercore("predict", tiny_model, tmp_path / "nope.jpg")
    assert result.returncode == 1 and "Cannot read" in result.stdout and "Traceback" not in result.stderr


def _card_model(tmp_path, **private_extra):
    keras.utils.set_random_seed(0)
    report = {"n": 7, "accuracy": 0.6, "macro_f1": 0.5, "confusion": [[1 if i == j else 0 for j in range(7)]
              for i in range(7)], "per_class": {e: {"precision": 0.5, "recall": 0.4, "f1": 0.45, "support": 1}
                                                for e in EMOTIONS}}
    return save_artifact(build_model(hyperparameters("seed", filters=8, dense_units=16)), tmp_path / "m.keras",
                         {"arch": "seed", "parameters": 10,
                          "evaluation": {"private": report | private_extra, "public": report},
                          "data": {"train_faces_used": 100, "fingerprint": "abc"},
                          "training": {"command": "python -m fercore train --arch seed"}})


def test_card_writes_markdown_with_results_and_a_confusion_image(tmp_path):
    result = fercore("card", _card_model(tmp_path), "--out", tmp_path / "README.md")
    assert result.returncode == 0, result.stderr
    card = (tmp_path / "README.md").read_text()
    assert "python -m fercore train --arch seed" in card and "**60.0%**" in card and "diagnosis" in card
    assert cv2.imread(str(tmp_path / "m-confusion-private.png")) is not None
    # recorded before fercore measured calibration: the card says how to add it, and draws no diagram
    assert "Not measured for this model yet" in card and not (tmp_path / "m-reliability-private.png").exists()


def test_card_shows_the_calibration_error_and_a_reliability_diagram(tmp_path):
    table = [{"lower": i / 15, "upper": (i + 1) / 15, "count": 0, "confidence": None, "accuracy": None}
             for i in range(15)]
    table[13] |= {"count": 7, "confidence": 0.9, "accuracy": 6 / 7}
    model = _card_model(tmp_path, ece=0.0429, reliability=table)
    result = fercore("card", model, "--out", tmp_path / "README.md")
    assert result.returncode == 0, result.stderr
    card = (tmp_path / "README.md").read_text()
    assert "**0.043** on PrivateTest, not measured on PublicTest" in card
    assert "When the model says 90% sure, it is right about 86% of the time" in card
    assert "](m-reliability-private.png)" in card and "| 87%-93% | 7 | 90.0% | 85.7% |" in card
    assert cv2.imread(str(tmp_path / "m-reliability-private.png")) is not None
