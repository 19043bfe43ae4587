"""The recipe of issue 34, each piece off by default: random crops in training, ten-crop reading, SGD with
Nesterov momentum and a plateau schedule, and a larger VGG-style teacher, at a tiny scale on the CPU."""
import keras
import keras_tuner as kt
import numpy as np
import pytest

from fercore import cli
from fercore.artifact import commands_that_made, load_artifact, save_artifact
from fercore.data import Split, fold_of, load_fer2013
from fercore.errors import FercoreError
from fercore.evaluate import evaluate
from fercore.model import LAST_CONV, build_model, crop_size, define_space, hyperparameters, with_centre_crop
from fercore.pipeline import FaceBatches
from fercore.predict import Predictor, crop_offsets
from fercore.teachers import read_teachers
from fercore.train import TrainConfig, checkpoint_dir, train

TINY = dict(arch="seed", batch_size=8, augment=0.5, hparams={"filters": 8, "dense_units": 16})


def noise_faces(n: int, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, 256, (n, 48, 48), dtype=np.uint8)


def window_of(crop: np.ndarray, face: np.ndarray) -> tuple[int, int] | None:
    """Where `crop` sits in `face`, or None."""
    side = crop.shape[0]
    for top in range(49 - side):
        for left in range(49 - side):
            if np.array_equal(face[top : top + side, left : left + side], crop):
                return top, left
    return None


def test_crop_training_feeds_random_windows_of_the_asked_size_and_validation_the_centre():
    faces = noise_faces(16)
    split = Split("train", faces, np.arange(16) % 7, np.array([f"Training_{i}" for i in range(16)]))
    batches = FaceBatches(split, batch_size=16, shuffle=True, crop=44)
    x, _ = batches[0]
    assert x.shape == (16, 44, 44, 1)
    order = np.random.default_rng([0, 0]).permutation(16)  # FaceBatches' order of epoch 0
    places = [window_of(x[i, ..., 0].astype(np.uint8), faces[order[i]]) for i in range(16)]
    assert None not in places and len(set(places)) > 3  # windows of the faces themselves, at many places
    np.testing.assert_array_equal(batches[0][0], x)  # repeatable from the seed
    centre, _ = FaceBatches(split, batch_size=16, crop=44)[0]
    np.testing.assert_array_equal(centre[..., 0], faces[:, 2:46, 2:46])
    assert FaceBatches(split, batch_size=16, shuffle=True)[0][0].shape == (16, 48, 48, 1)  # off by default


def test_a_model_trained_on_crops_learns_at_that_size_and_saves_one_that_reads_48x48_faces(folder_dataset, tmp_path):
    out = tmp_path / "crop.keras"
    summary = train(TrainConfig(epochs=1, data=str(folder_dataset[0]), crop=40, **TINY), out, command="crop run")
    trained = keras.models.load_model(checkpoint_dir(out) / "best.keras")
    assert trained.input_shape == (None, 40, 40, 1)
    artifact = load_artifact(out)
    assert artifact.model.input_shape == (None, 48, 48, 1) and crop_size(artifact.model) == 40
    faces = noise_faces(5).astype(np.float32)[..., None]
    np.testing.assert_allclose(artifact.model.predict(faces, verbose=0),
                               trained.predict(faces[:, 4:44, 4:44], verbose=0), atol=1e-5)
    card = artifact.metadata
    assert card["training"]["config"]["crop"] == 40 and commands_that_made(card) == ["crop run"]
    assert card["evaluation_ten_crop"]["public"]["ten_crop"] is True
    assert "ten_crop" not in card["evaluation"]["public"]  # the card's figures: read as the app reads faces
    assert summary["evaluation_ten_crop"]["private"]["n"] == 14
    with pytest.raises(FercoreError, match="--crop takes"):
        train(TrainConfig(epochs=1, data=str(folder_dataset[0]), crop=48, **TINY), tmp_path / "x.keras")


@pytest.fixture
def crop_model(tmp_path):
    keras.utils.set_random_seed(0)
    hp = hyperparameters("seed", filters=8, dense_units=16)
    core = build_model(hp, input_size=44)
    path = save_artifact(with_centre_crop(hp, core), tmp_path / "crop.keras", {})
    return core, path


def test_ten_crop_reading_averages_exactly_the_ten_views(crop_model):
    core, path = crop_model
    predictor = Predictor.from_path(path, ten_crop=True)
    rows = []
    batched = predictor._batched
    predictor._batched = lambda x: rows.append(len(x)) or batched(x)
    faces = noise_faces(3, seed=1)  # no symmetry: each window reads differently
    ten = predictor.probabilities(faces)
    assert rows == [30]  # ten views a face
    mirrored = faces[:, :, ::-1]
    windows = [side[:, t : t + 44, l : l + 44] for side in (faces, mirrored) for t, l in crop_offsets(48, 44)]
    assert len(set(crop_offsets(48, 44))) == 5
    expected = np.mean([core.predict(w.astype(np.float32)[..., None], verbose=0) for w in windows], axis=0)
    np.testing.assert_allclose(ten, expected, atol=1e-5)
    single = Predictor.from_path(path).probabilities(faces, tta=False)
    flip = Predictor.from_path(path).probabilities(faces)
    assert np.abs(ten - single).max() > 1e-4 and np.abs(ten - flip).max() > 1e-4
    np.testing.assert_allclose(predictor.probabilities(faces, tta=False), single, atol=1e-6)  # one pass is one pass


def test_ten_crop_evaluation_is_marked_and_needs_a_model_trained_on_crops(crop_model, tmp_path):
    _, path = crop_model
    split = Split("public", noise_faces(7), np.arange(7), np.array([str(i) for i in range(7)]))
    assert evaluate(Predictor.from_path(path, ten_crop=True), split)["ten_crop"] is True
    assert "ten_crop" not in evaluate(Predictor.from_path(path), split)
    whole = save_artifact(build_model(hyperparameters("seed", filters=8, dense_units=16)), tmp_path / "w.keras", {})
    with pytest.raises(FercoreError, match="trained on crops"):
        Predictor.from_path(whole, ten_crop=True)


def test_sgd_nesterov_with_a_plateau_schedule_cuts_the_learning_rate(folder_dataset, tmp_path):
    out = tmp_path / "sgd.keras"
    # a step too small to change PublicTest's loss: a plateau from the second epoch on (seed has no batch norm)
    config = TrainConfig(epochs=3, data=str(folder_dataset[0]), optimizer="sgd-nesterov", schedule="plateau",
                         plateau_monitor="val_loss", plateau_patience=1, plateau_factor=0.5,
                         **TINY | {"hparams": TINY["hparams"] | {"learning_rate": 1e-8}})
    train(config, out)
    optimizer = keras.models.load_model(checkpoint_dir(out) / "last.keras").optimizer
    assert isinstance(optimizer, keras.optimizers.SGD) and optimizer.nesterov and optimizer.momentum == 0.9
    rates = [row["learning_rate"] for row in load_artifact(out).metadata["training"]["history"]]
    assert rates[0] == pytest.approx(1e-8) and rates[-1] == pytest.approx(0.5e-8)
    config = load_artifact(out).metadata["training"]["config"]
    assert (config["optimizer"], config["schedule"], config["plateau_patience"]) == ("sgd-nesterov", "plateau", 1)


def test_sgd_takes_its_own_learning_rate_and_adamw_with_cosine_stays_the_default(folder_dataset, tmp_path):
    assert (TrainConfig().optimizer, TrainConfig().schedule, TrainConfig().crop) == ("adamw", "cosine", None)
    out = tmp_path / "sgd.keras"
    train(TrainConfig(epochs=1, data=str(folder_dataset[0]), optimizer="sgd-nesterov", **TINY), out)
    assert load_artifact(out).metadata["hyperparameters"]["learning_rate"] == 1e-2
    default = tmp_path / "adamw.keras"
    train(TrainConfig(epochs=1, data=str(folder_dataset[0]), **TINY), default)
    assert isinstance(keras.models.load_model(checkpoint_dir(default) / "last.keras").optimizer, keras.optimizers.AdamW)
    with pytest.raises(FercoreError, match="--optimizer"):
        train(TrainConfig(epochs=1, data=str(folder_dataset[0]), optimizer="sgd", **TINY), tmp_path / "x.keras")


def test_the_vgg_teacher_has_10_to_30m_parameters_and_trains_a_step():
    keras.utils.set_random_seed(0)
    model = build_model(hyperparameters("vgg"), optimizer="sgd-nesterov", input_size=44)
    assert 10e6 <= model.count_params() <= 30e6 and model.get_layer(LAST_CONV) is not None
    faces, labels = noise_faces(4).astype(np.float32)[:, 2:46, 2:46, None], np.eye(7)[[0, 1, 2, 3]]
    before = [w.copy() for w in model.get_weights()]
    model.train_on_batch(faces, labels)
    assert any(not np.allclose(a, b) for a, b in zip(before, model.get_weights()))
    hp = kt.HyperParameters()
    define_space(hp)
    assert hp.get("arch") == "default" and "vgg" not in hp.space[0].values  # the tuner searches as before


def test_held_out_vgg_teachers_on_crops_read_their_fold_in_ten_crops(folder_dataset, tmp_path, capsys, monkeypatch):
    root = str(folder_dataset[0])
    small = dict(TINY, arch="vgg", hparams={"filters": 4, "dense_units": 8, "convs": 2})
    teacher = tmp_path / "fold1.keras"
    train(TrainConfig(epochs=1, data=root, holdout="1/2", crop=44, optimizer="sgd-nesterov", schedule="plateau",
                      **small), teacher)
    assert load_artifact(teacher).metadata["arch"] == "vgg" and crop_size(load_artifact(teacher).model) == 44
    splits = load_fer2013(root)
    readings = read_teachers([teacher], splits, ten_crop=True)
    fold = fold_of(splits["train"].ids, 2)
    assert np.isnan(readings["train"][0][fold == 2]).all() and not np.isnan(readings["train"][0][fold == 1]).any()
    assert readings["models"] == [{"name": "fold1", "reading": "ten-crop"}]
    arguments = ["teachers", str(teacher), "--ten-crop", "--out", str(tmp_path / "t.npz"), "--data", root]
    assert cli.main(arguments) == 0


def test_the_command_line_passes_every_recipe_option(monkeypatch, tmp_path):
    seen = {}

    def fake_train(config, out, **kwargs):
        seen["config"] = config
        return {"artifact": None}

    monkeypatch.setattr("fercore.train.train", fake_train)
    cli.main(["train", "--arch", "vgg", "--crop", "44", "--optimizer", "sgd-nesterov", "--schedule", "plateau",
              "--plateau-monitor", "val_loss", "--plateau-factor", "0.75", "--plateau-patience", "3"])
    config = seen["config"]
    assert (config.arch, config.crop, config.optimizer, config.schedule) == ("vgg", 44, "sgd-nesterov", "plateau")
    assert (config.plateau_monitor, config.plateau_factor, config.plateau_patience) == ("val_loss", 0.75, 3)
    cli.main(["train"])
    config = seen["config"]
    assert (config.arch, config.crop, config.optimizer, config.schedule) == ("default", None, "adamw", "cosine")
