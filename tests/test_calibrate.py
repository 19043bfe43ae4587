"""Per-emotion offsets tuned on PublicTest: an under-answered emotion reaches the recall floor, and
the offsets live in the model file itself."""
import keras
import numpy as np

from conftest import synthetic_faces
from fercore.artifact import commands_that_made, load_artifact, save_artifact
from fercore.calibrate import calibrate, fit_offsets, per_class_recall
from fercore.model import build_model, hyperparameters
from fercore.predict import Predictor

FEAR, SAD = 2, 4


def shy_of_fear(n_per_class=200, seed=0):
    """Log-probabilities of a model that is right on most faces but reads most fear faces as sad."""
    rng = np.random.default_rng(seed)
    labels = np.repeat(np.arange(7), n_per_class)
    logits = rng.normal(0, 1, (len(labels), 7))
    logits[np.arange(len(labels)), labels] += 2.5
    logits[labels == FEAR, SAD] += 3.0  # fear mostly loses to sad, by a small margin
    return logits - np.log(np.exp(logits).sum(axis=1, keepdims=True)), labels


def accuracy(log_probabilities, labels, offsets):
    return np.mean((log_probabilities + offsets).argmax(axis=1) == labels)


def test_an_under_answered_emotion_reaches_the_recall_floor():
    log_p, labels = shy_of_fear()
    assert per_class_recall(labels, log_p.argmax(axis=1))[FEAR] < 0.45
    offsets = fit_offsets(log_p, labels, min_recall=0.45)
    recall = per_class_recall(labels, (log_p + offsets).argmax(axis=1))
    assert recall.min() >= 0.45 and offsets[FEAR] > offsets[SAD]
    assert accuracy(log_p, labels, offsets) > accuracy(log_p, labels, 0) - 0.03  # a small price


def test_offsets_never_lower_accuracy_when_the_floor_is_already_met():
    log_p, labels = shy_of_fear()
    offsets = fit_offsets(log_p, labels, min_recall=0.0)
    assert accuracy(log_p, labels, offsets) >= accuracy(log_p, labels, 0)


def test_the_calibrated_file_answers_as_the_offsets_say_and_records_how_it_was_made(folder_dataset, tmp_path):
    keras.utils.set_random_seed(0)
    model = build_model(hyperparameters("seed", filters=8, dense_units=16))
    source = save_artifact(model, tmp_path / "m.keras", {"arch": "seed", "training": {"command": "train it"}})
    summary = calibrate(source, tmp_path / "calibrated.keras", 0.45, str(folder_dataset[0]), command="calibrate it")

    faces = synthetic_faces(3, seed=5)[0]
    before = Predictor.from_path(source).probabilities(faces, tta=False)
    after = Predictor.from_path(summary["artifact"]).probabilities(faces, tta=False)
    expected = before * np.exp(summary["offsets"])
    np.testing.assert_allclose(after, expected / expected.sum(axis=1, keepdims=True), rtol=1e-4, atol=1e-6)
    card = load_artifact(summary["artifact"]).metadata
    assert card["calibration"]["tuned_on"] == "public" and len(card["calibration"]["offsets"]) == 7
    assert commands_that_made(card) == ["train it", "calibrate it"]
    assert set(card["evaluation"]) == {"public", "private"}
