"""Knowledge distillation: teachers' readings kept in a file, merged, lined up with the faces by id,
and a student trained on them that records how its teachers were made; a time-limited run that fits."""
import numpy as np
import pytest

from fercore import cli
from fercore.artifact import commands_that_made, load_artifact
from fercore.data import fold_of, load_fer2013
from fercore.errors import FercoreError
from fercore.pipeline import FaceBatches
from fercore.teachers import load_teachers, read_teachers, save_teachers, soft_targets
from fercore.train import TrainConfig, train
from test_pipeline import labelled_faces

TINY = dict(arch="seed", batch_size=8, augment=0.0, hparams={"filters": 8, "dense_units": 16})


def test_batches_mix_the_label_with_the_teachers_reading():
    split = labelled_faces(14)
    reading = np.full((14, 7), 1 / 7, np.float32)
    batches = FaceBatches(split, batch_size=14, soft_targets=reading, distill=0.25)
    faces, targets = batches[0]
    np.testing.assert_allclose(targets.sum(axis=1), 1, rtol=1e-6)
    np.testing.assert_allclose(targets[np.arange(14), split.labels], 0.75 + 0.25 / 7, rtol=1e-6)
    assert faces.shape == (14, 48, 48, 1)


@pytest.fixture
def teacher(folder_dataset, tmp_path):
    root = str(folder_dataset[0])
    train(TrainConfig(epochs=1, data=root, **TINY), tmp_path / "teacher.keras", command="make the teacher")
    return root, tmp_path / "teacher.keras"


def test_readings_merge_line_up_by_face_and_carry_the_commands(teacher, tmp_path):
    root, model = teacher
    splits = load_fer2013(root)
    first = save_teachers(tmp_path / "a.npz", read_teachers([model], splits, command="read a"))
    merged = read_teachers([first, model], splits, command="merge")
    assert merged["train"].shape == (2, len(splits["train"]), 7)
    np.testing.assert_allclose(merged["train"][0], merged["train"][1], atol=1e-3)  # float16 in the file
    assert merged["commands"] == ["make the teacher", "read a", "merge"]

    # a sample of the Training faces (train --subset) gets each face's own reading, in its order
    sample = splits["train"].sample(9, seed=1)
    position = {face_id: i for i, face_id in enumerate(splits["train"].ids)}
    expected = merged["train"].mean(axis=0)[[position[i] for i in sample.ids]]
    save_teachers(tmp_path / "m.npz", merged)
    np.testing.assert_allclose(soft_targets(tmp_path / "m.npz", sample), expected, atol=1e-3)


def test_readings_of_other_faces_are_refused_in_words(teacher, tmp_path):
    root, model = teacher
    splits = load_fer2013(root)
    readings = read_teachers([model], splits)
    other = splits["train"].sample(5)
    readings["train_ids"] = np.array([f"Training_elsewhere{i}" for i in range(len(splits["train"]))])
    save_teachers(tmp_path / "other.npz", readings)
    with pytest.raises(FercoreError, match="different copy of FER2013"):
        soft_targets(tmp_path / "other.npz", other)
    (tmp_path / "junk.npz").write_bytes(b"not a file of readings")
    with pytest.raises(FercoreError, match="not a teachers' readings file"):
        load_teachers(tmp_path / "junk.npz")


def test_held_out_teachers_read_only_faces_they_never_trained_on(folder_dataset, tmp_path):
    root = str(folder_dataset[0])
    splits = load_fer2013(root)
    fold = fold_of(splits["train"].ids, 2)
    teachers = [tmp_path / f"fold{k}.keras" for k in (1, 2)]
    for k, out in enumerate(teachers, start=1):
        train(TrainConfig(epochs=1, data=root, holdout=f"{k}/2", **TINY), out)
        assert load_artifact(out).metadata["data"]["train_faces_used"] == (fold != k).sum()
    readings = read_teachers(teachers, splits)
    first, second = readings["train"]
    assert np.isnan(first[fold == 2]).all() and not np.isnan(first[fold == 1]).any()
    save_teachers(tmp_path / "both.npz", readings)
    unseen = np.where((fold == 1)[:, None], first, second)  # each face read by the teacher that never saw it
    np.testing.assert_allclose(soft_targets(tmp_path / "both.npz", splits["train"]), unseen, atol=1e-3)
    save_teachers(tmp_path / "one.npz", read_teachers(teachers[:1], splits))
    with pytest.raises(FercoreError, match="without having trained on them"):
        soft_targets(tmp_path / "one.npz", splits["train"])


def test_a_student_learns_from_teachers_and_its_card_says_how_they_were_made(teacher, tmp_path, capsys,
                                                                            monkeypatch):
    root, model = teacher
    readings = tmp_path / "teachers.npz"
    arguments = ["teachers", str(model), "--out", str(readings), "--data", root]
    monkeypatch.setattr("sys.argv", ["fercore", *arguments])  # the command it records
    assert cli.main(arguments) == 0
    assert "all together" in capsys.readouterr().out
    student = tmp_path / "student.keras"
    train(TrainConfig(epochs=1, data=root, teachers=str(readings), distill=0.8, **TINY), student,
          command="make the student")
    commands = commands_that_made(load_artifact(student).metadata)
    assert commands[0] == "make the teacher" and commands[-1] == "make the student"
    assert "teachers" in commands[1] and str(readings) in commands[1]
    with pytest.raises(FercoreError, match="between 0 and 1"):
        train(TrainConfig(epochs=1, data=root, teachers=str(readings), distill=1.5, **TINY), tmp_path / "x.keras")


def test_a_time_limit_shortens_the_run_and_still_anneals(folder_dataset, tmp_path):
    summary = train(TrainConfig(epochs=50, data=str(folder_dataset[0]), time_limit_s=0.001, **TINY),
                    tmp_path / "quick.keras")
    history = load_artifact(tmp_path / "quick.keras").metadata["training"]["history"]
    assert summary["epochs_done"] == 1 and len(history) == 1
