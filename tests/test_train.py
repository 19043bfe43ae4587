"""Training end to end: events in order, cancel, resume, and a short real run that must learn."""
import json

import keras
import numpy as np
import pytest

from conftest import synthetic_faces
from fercore.artifact import commands_that_made, load_artifact
from fercore.data import load_fer2013, load_split
from fercore.errors import FercoreError
from fercore.evaluate import majority_rate, record_evaluation
from fercore.pipeline import as_inputs
from fercore.training_events import CancelToken, TrainingListener
from fercore.train import TrainConfig, checkpoint_dir, train

TINY = dict(arch="seed", batch_size=8, augment=0.5, hparams={"filters": 8, "dense_units": 16})


class Recorder(TrainingListener):
    def __init__(self, cancel_at=None, token=None):
        self.events, self.cancel_at, self.token = [], cancel_at, token

    def on_run_begin(self, info):
        self.events.append(("run_begin", info["initial_epoch"]))

    def on_epoch_begin(self, epoch):
        self.events.append(("epoch_begin", epoch))

    def on_batch_end(self, epoch, batch, logs):
        self.events.append(("batch_end", epoch, batch))
        if (epoch, batch) == self.cancel_at:
            self.token.cancel()

    def on_epoch_end(self, epoch, logs):
        assert {"loss", "accuracy", "val_accuracy", "learning_rate", "seconds"} <= set(logs)
        self.events.append(("epoch_end", epoch))

    def on_run_end(self, summary):
        self.events.append(("run_end", summary["epochs_done"]))


def test_events_arrive_in_order_and_the_artifact_carries_its_card(folder_dataset, tmp_path):
    recorder = Recorder()
    out = tmp_path / "m.keras"
    summary = train(TrainConfig(epochs=2, data=str(folder_dataset[0]), **TINY), out, listener=recorder,
                    command="python -m fercore train ...")
    names = [e[0] for e in recorder.events]
    assert names[0] == "run_begin" and names[-1] == "run_end"
    assert names.index("epoch_end") > names.index("batch_end") > names.index("epoch_begin")
    assert [e[1] for e in recorder.events if e[0] == "epoch_end"] == [0, 1]
    card = load_artifact(out).metadata
    assert card["training"]["command"] == "python -m fercore train ..."
    assert card["training"]["config"]["epochs"] == 2 and len(card["training"]["history"]) == 2
    assert card["data"]["fingerprint"] and card["evaluation"]["private"]["n"] == 14
    assert summary["evaluation"]["public"]["split"] == "public"


def test_cancel_stops_within_a_batch_and_keeps_the_finished_epoch(folder_dataset, tmp_path):
    token = CancelToken()
    recorder = Recorder(cancel_at=(1, 1), token=token)
    summary = train(TrainConfig(epochs=5, data=str(folder_dataset[0]), **TINY), tmp_path / "m.keras",
                    listener=recorder, cancel=token)
    assert summary["cancelled"] and summary["epochs_done"] == 1
    assert recorder.events[-2] == ("batch_end", 1, 1)  # nothing ran after the cancelling batch
    assert load_artifact(summary["artifact"]).metadata["training"]["cancelled"] is True


def test_resume_continues_from_the_last_checkpoint(folder_dataset, tmp_path):
    out = tmp_path / "m.keras"
    train(TrainConfig(epochs=1, data=str(folder_dataset[0]), **TINY), out, command="first part")
    recorder = Recorder()
    train(TrainConfig(epochs=3, data=str(folder_dataset[0]), **TINY), out, resume=True, listener=recorder,
          command="the rest --resume")
    assert recorder.events[0] == ("run_begin", 1)
    assert [e[1] for e in recorder.events if e[0] == "epoch_end"] == [1, 2]
    state = json.loads((checkpoint_dir(out) / "state.json").read_text())
    assert [h["epoch"] for h in state["history"]] == [1, 2, 3]
    assert commands_that_made(load_artifact(out).metadata) == ["first part", "the rest --resume"]


def test_resume_with_other_settings_is_refused(folder_dataset, tmp_path):
    out = tmp_path / "m.keras"
    train(TrainConfig(epochs=1, data=str(folder_dataset[0]), **TINY), out)
    with pytest.raises(Exception, match="Cannot resume.*batch_size"):
        train(TrainConfig(epochs=2, data=str(folder_dataset[0]), **(TINY | {"batch_size": 4})), out, resume=True)


def test_short_real_run_beats_the_majority_class(real_data_path, tmp_path):
    """A few thousand real faces, a few epochs: the seed net must clearly beat always saying 'happy'."""
    summary = train(TrainConfig(arch="seed", epochs=3, subset=6000, augment=0, class_weight="none",
                                data=str(real_data_path)), tmp_path / "seed.keras")
    floor = majority_rate(load_split("public", real_data_path))
    public = summary["evaluation"]["public"]
    assert public["n"] == 3589
    assert public["accuracy"] > floor + 0.05, (public["accuracy"], floor)
    predicted_classes = sum(1 for row in zip(*public["confusion"]) if sum(row) > 0)
    assert predicted_classes >= 4  # not one class for every face, as the prototype did


def test_mixed_precision_training_saves_a_float32_model(folder_dataset, tmp_path):
    out = tmp_path / "m.keras"
    train(TrainConfig(epochs=1, data=str(folder_dataset[0]), precision="mixed_bfloat16", **TINY), out)
    model = load_artifact(out).model
    assert {layer.dtype_policy.name for layer in model.layers} == {"float32"}
    trained = keras.models.load_model(checkpoint_dir(out) / "best.keras")
    assert "mixed_bfloat16" in {layer.dtype_policy.name for layer in trained.layers}
    faces = as_inputs(synthetic_faces(2)[0])
    np.testing.assert_allclose(model.predict(faces, verbose=0), trained.predict(faces, verbose=0), atol=0.03)


def test_mixup_and_cutmix_train_and_are_recorded_and_a_negative_alpha_is_refused(folder_dataset, tmp_path):
    out = tmp_path / "mixed.keras"
    train(TrainConfig(epochs=1, data=str(folder_dataset[0]), mixup=0.2, cutmix=1.0, **TINY), out)
    config = load_artifact(out).metadata["training"]["config"]
    assert (config["mixup"], config["cutmix"]) == (0.2, 1.0)
    with pytest.raises(FercoreError, match="--mixup and --cutmix"):
        train(TrainConfig(epochs=1, data=str(folder_dataset[0]), cutmix=-1.0, **TINY), tmp_path / "x.keras")


def test_training_can_start_from_a_trained_model(folder_dataset, tmp_path):
    first = tmp_path / "first.keras"
    train(TrainConfig(epochs=1, data=str(folder_dataset[0]), **TINY), first, command="first run")
    # learning rate 0: the continued run must hold exactly the weights it started from
    frozen = TINY | {"hparams": TINY["hparams"] | {"learning_rate": 0.0}}
    second = tmp_path / "second.keras"
    train(TrainConfig(epochs=1, data=str(folder_dataset[0]), init_from=str(first), **frozen), second,
          command="second run")
    for a, b in zip(load_artifact(first).model.get_weights(), load_artifact(second).model.get_weights()):
        np.testing.assert_array_equal(a, b)
    assert commands_that_made(load_artifact(second).metadata) == ["first run", "second run"]  # for the card


def test_starting_from_a_different_network_is_refused(folder_dataset, tmp_path):
    first = tmp_path / "first.keras"
    train(TrainConfig(epochs=1, data=str(folder_dataset[0]), **TINY), first)
    wider = TINY | {"hparams": {"filters": 16, "dense_units": 16}}
    with pytest.raises(FercoreError, match="different network"):
        train(TrainConfig(epochs=1, data=str(folder_dataset[0]), init_from=str(first), **wider), tmp_path / "w.keras")


def test_a_machine_without_privatetest_trains_and_the_full_data_records_it_later(folder_dataset, tmp_path):
    root, _ = folder_dataset
    held_back = tmp_path / "private"
    held_back.mkdir()
    for face in root.glob("test/*/PrivateTest_*"):
        face.rename(held_back / f"{face.parent.name}-{face.name}")
    out = tmp_path / "m.keras"
    summary = train(TrainConfig(epochs=1, data=str(root), **TINY), out)
    assert summary["evaluation"]["private"]["n"] == 0 and summary["evaluation"]["public"]["n"] == 14

    for face in held_back.iterdir():
        emotion, name = face.name.split("-", 1)
        face.rename(root / "test" / emotion / name)
    splits = load_fer2013(str(root))
    assert record_evaluation(out, splits)["private"]["n"] == 14
    assert load_artifact(out).metadata["data"]["sizes"]["private"] == 14
