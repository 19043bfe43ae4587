"""The networks and their saved form: softmax outputs, honest accuracy, artifact round trip."""
import json

import keras
import numpy as np
import pytest

from fercore.artifact import load_artifact, metadata_path, read_metadata, save_artifact
from fercore.errors import ArtifactError
from fercore.evaluate import report
from fercore.labels import EMOTIONS
from fercore.model import LAST_CONV, build_model, hyperparameters
from fercore.predict import Predictor


@pytest.fixture(scope="module")
def seed_model():
    keras.utils.set_random_seed(0)
    return build_model(hyperparameters("seed", filters=8, dense_units=16))


@pytest.mark.parametrize("arch", ["seed", "default"])
def test_models_output_a_softmax_over_seven_emotions_and_name_their_last_conv(arch):
    model = build_model(hyperparameters(arch, filters=8, dense_units=16))
    probs = model.predict(np.random.default_rng(0).uniform(0, 255, (3, 48, 48, 1)), verbose=0)
    assert probs.shape == (3, 7)
    np.testing.assert_allclose(probs.sum(axis=1), 1.0, rtol=1e-5)
    assert model.get_layer(LAST_CONV) is not None
    assert isinstance(model.loss, keras.losses.CategoricalCrossentropy)


def test_reported_accuracy_is_categorical_not_per_label(seed_model):
    """The prototype's bug: sigmoid + binary accuracy read 6/7 = 0.857 for a model answering one class.
    Here a one-class answer must score that class's share, in Keras's metric and in our report."""
    labels = np.repeat(np.arange(7), 10)
    one_hot = keras.utils.to_categorical(labels, 7)
    always_happy = keras.utils.to_categorical(np.full(70, EMOTIONS.index("happy")), 7)
    metric = keras.metrics.CategoricalAccuracy()
    metric.update_state(one_hot, always_happy)
    assert float(metric.result()) == pytest.approx(1 / 7)
    ours = report(labels, always_happy.argmax(axis=1))
    assert ours["accuracy"] == pytest.approx(1 / 7)
    assert ours["per_class"]["happy"]["recall"] == 1.0 and ours["per_class"]["sad"]["recall"] == 0.0
    assert ours["macro_f1"] < 0.05


def test_report_has_the_documented_keys_and_confusion_rows_are_true_classes():
    labels = np.array([0, 0, 1, 3, 3, 3])
    predictions = np.array([0, 3, 1, 3, 3, 0])
    result = report(labels, predictions)
    assert {"accuracy", "macro_f1", "per_class", "confusion", "n"} <= set(result)
    assert result["n"] == 6 and result["accuracy"] == pytest.approx(4 / 6)
    assert result["confusion"][0] == [1, 0, 0, 1, 0, 0, 0]  # one angry face read as happy
    assert result["confusion"][3] == [1, 0, 0, 2, 0, 0, 0]
    assert set(result["per_class"]) == set(EMOTIONS)


def test_artifact_round_trip_keeps_predictions_and_card(seed_model, tmp_path):
    path = save_artifact(seed_model, tmp_path / "tiny.keras", {"arch": "seed", "note": "round trip"})
    loaded = load_artifact(path)
    faces = np.random.default_rng(1).integers(0, 255, (5, 48, 48), dtype=np.uint8)
    expected = seed_model.predict(faces[..., None].astype("float32"), verbose=0)
    np.testing.assert_allclose(Predictor(loaded.model).probabilities(faces, tta=False), expected, atol=1e-5)
    assert loaded.metadata["classes"] == list(EMOTIONS) and loaded.metadata["note"] == "round trip"
    assert "tensorflow" in loaded.metadata["versions"]


def test_faces_are_read_with_their_mirror_image_by_default(seed_model, tmp_path):
    predictor = Predictor.from_path(save_artifact(seed_model, tmp_path / "m.keras", {}))
    faces = np.random.default_rng(2).integers(0, 255, (3, 48, 48), dtype=np.uint8)
    both = (predictor.probabilities(faces, tta=False) + predictor.probabilities(faces[:, :, ::-1], tta=False)) / 2
    np.testing.assert_allclose(predictor.probabilities(faces), both, atol=1e-6)


def test_predictor_handles_batches_of_any_size(seed_model, tmp_path):
    predictor = Predictor(seed_model, batch_size=8)
    faces = np.random.default_rng(3).integers(0, 255, (19, 48, 48), dtype=np.uint8)
    together = predictor.probabilities(faces)
    one_by_one = np.concatenate([predictor.probabilities(f[None]) for f in faces[:3]])
    assert together.shape == (19, 7)
    np.testing.assert_allclose(together[:3], one_by_one, atol=1e-5)


def test_missing_model_file_says_how_to_train_one(tmp_path):
    with pytest.raises(ArtifactError, match="No model file at .*python -m fercore train"):
        load_artifact(tmp_path / "absent.keras")


def test_corrupt_model_file_is_reported_not_raised_raw(seed_model, tmp_path):
    path = save_artifact(seed_model, tmp_path / "broken.keras", {})
    path.write_bytes(path.read_bytes()[:500])  # truncated download
    with pytest.raises(ArtifactError, match="could not be loaded"):
        load_artifact(path)


def test_mismatched_class_order_is_refused(seed_model, tmp_path):
    path = save_artifact(seed_model, tmp_path / "other.keras", {})
    card = json.loads(metadata_path(path).read_text())
    card["classes"] = sorted(EMOTIONS)  # alphabetical order, as a folder loader might produce
    metadata_path(path).write_text(json.dumps(card))
    with pytest.raises(ArtifactError, match="trained for classes"):
        read_metadata(path)


def test_model_without_card_is_refused(seed_model, tmp_path):
    path = tmp_path / "bare.keras"
    seed_model.save(path)
    with pytest.raises(ArtifactError, match="has no bare.json"):
        load_artifact(path)
