import numpy as np
import pytest

from fercore import data as fer_data
from fercore.data import EXPECTED_SIZES, load_fer2013, resolve_data_path
from fercore.errors import DatasetError
from fercore.labels import EMOTIONS

from conftest import write_csv_dataset


def _sorted_rows(split):
    """Faces and labels in a canonical order, so two loaders can be compared regardless of file order."""
    flat = split.images.reshape(len(split), -1)
    order = np.lexsort(flat.T[::-1])
    return flat[order], split.labels[order]


def test_folder_layout_gives_three_splits_with_the_written_faces(folder_dataset):
    root, written = folder_dataset
    splits = load_fer2013(root)
    assert set(splits) == {"train", "public", "private"}
    for name, (faces, labels) in written.items():
        assert len(splits[name]) == len(labels)
        assert splits[name].images.dtype == np.uint8 and splits[name].images.shape[1:] == (48, 48)
        assert list(splits[name].class_counts()) == list(np.bincount(labels, minlength=7))
        got_faces, got_labels = _sorted_rows(splits[name])
        want = type(splits[name])(name, faces, labels, np.array([]))
        want_faces, want_labels = _sorted_rows(want)
        np.testing.assert_array_equal(got_faces, want_faces)
        np.testing.assert_array_equal(got_labels, want_labels)
    assert all(i.startswith("PrivateTest_") for i in splits["private"].ids)


def test_csv_and_folder_forms_give_the_same_arrays(folder_dataset, tmp_path):
    root, written = folder_dataset
    csv_path = tmp_path / "fer2013.csv"
    write_csv_dataset(csv_path, written)
    from_folders, from_csv = load_fer2013(root), load_fer2013(csv_path)
    for name in from_folders:
        for a, b in zip(_sorted_rows(from_folders[name]), _sorted_rows(from_csv[name])):
            np.testing.assert_array_equal(a, b)


def test_a_folder_holding_the_csv_is_found(folder_dataset, tmp_path):
    _, written = folder_dataset
    holder = tmp_path / "download"
    holder.mkdir()
    write_csv_dataset(holder / "fer2013.csv", written)
    assert len(load_fer2013(holder)["public"]) == len(written["public"][1])


def test_second_load_comes_from_cache_and_a_changed_source_rebuilds_it(folder_dataset, monkeypatch):
    root, written = folder_dataset
    load_fer2013(root)

    def must_not_decode(*_):
        raise AssertionError("decoded again although the source did not change")

    with monkeypatch.context() as patch:
        patch.setattr(fer_data, "_read_folders", must_not_decode)
        assert len(load_fer2013(root)["train"]) == len(written["train"][1])

    extra = root / "train" / "happy" / "Training_extra.png"
    import cv2
    cv2.imwrite(str(extra), np.full((48, 48), 128, np.uint8))
    assert len(load_fer2013(root)["train"]) == len(written["train"][1]) + 1


def test_data_path_precedence(monkeypatch, tmp_path):
    monkeypatch.setenv("FER_DATA", str(tmp_path / "from-env"))
    assert resolve_data_path(tmp_path / "from-flag") == tmp_path / "from-flag"
    assert resolve_data_path() == tmp_path / "from-env"
    monkeypatch.delenv("FER_DATA")
    assert resolve_data_path() == fer_data.PROJECT_ROOT / "data" / "fer2013"


@pytest.mark.parametrize("make_bad, expected", [
    (lambda p: p / "nowhere", "does not exist"),
    (lambda p: p, "neither train/ and test/ folders nor a fer2013.csv"),
    (lambda p: _write(p / "fer2013.csv", "a,b\n1,2\n"), "lacks the column"),
    (lambda p: _write(p / "fer2013.csv", "emotion,pixels,Usage\n3,1 2 3,Training\n"), "expected 2304 pixel values"),
    (lambda p: _write(p / "fer2013.csv", "emotion,pixels,Usage\n9," + " ".join(["1"] * 2304) + ",Training\n"),
     "emotion 9 is outside"),
    (lambda p: _write(p / "fer2013.csv", "emotion,pixels,Usage\n"), "holds no faces"),
    (lambda p: _write(p / "faces.txt", "hello"), "not a .csv"),
])
def test_bad_dataset_paths_give_one_clear_message(tmp_path, make_bad, expected):
    bad = make_bad(tmp_path)
    with pytest.raises(DatasetError) as error:
        load_fer2013(bad)
    message = str(error.value)
    assert expected in message
    assert str(bad) in message and "Kaggle" in message and "FER_DATA" in message


def test_a_corrupt_image_is_named_in_the_message(folder_dataset):
    root, _ = folder_dataset
    broken = root / "test" / "fear" / "PublicTest_broken.jpg"
    broken.write_bytes(b"\xff\xd8\xff\xe0 not really a jpeg")
    with pytest.raises(DatasetError, match="PublicTest_broken.jpg"):
        load_fer2013(root)


def test_files_without_a_split_prefix_are_reported(folder_dataset):
    root, _ = folder_dataset
    (root / "train" / "sad" / "im42.png").write_bytes((root / "train" / "sad").iterdir().__next__().read_bytes())
    with pytest.raises(DatasetError, match="lack a split prefix, e.g. im42.png"):
        load_fer2013(root)


def test_sample_is_a_reproducible_random_subset(folder_dataset):
    train = load_fer2013(folder_dataset[0])["train"]
    a, b = train.sample(10, seed=1), train.sample(10, seed=1)
    assert len(a) == 10 and list(a.ids) == list(b.ids)
    assert len(set(a.labels)) > 1  # not the first ten files of one class


def test_real_fer2013_has_the_official_splits_and_class_counts(real_data_path):
    splits = load_fer2013(real_data_path)
    assert {name: len(s) for name, s in splits.items()} == EXPECTED_SIZES
    counts = {name: dict(zip(EMOTIONS, s.class_counts().tolist())) for name, s in splits.items()}
    assert counts["train"] == {"angry": 3995, "disgust": 436, "fear": 4097, "happy": 7215, "sad": 4830,
                               "surprise": 3171, "neutral": 4965}
    assert counts["public"]["disgust"] == 56 and counts["private"]["disgust"] == 55
    assert counts["public"]["happy"] == 895 and counts["private"]["happy"] == 879


def _write(path, text):
    path.write_text(text)
    return path


def test_asking_for_the_test_splits_reads_only_those(folder_dataset, tmp_path):
    root, written = folder_dataset
    csv_path = tmp_path / "fer2013.csv"
    write_csv_dataset(csv_path, written)
    for source in (root, csv_path):
        test_only = load_fer2013(source, splits=fer_data.TEST_SPLITS)
        assert set(test_only) == {"public", "private"}
        for name, split in test_only.items():
            np.testing.assert_array_equal(_sorted_rows(split)[0], _sorted_rows(load_fer2013(source)[name])[0])


def test_folds_split_training_by_face_id_whatever_the_sample_or_order():
    ids = np.array([f"Training_{i}" for i in range(90)])
    split = fer_data.Split("train", np.zeros((90, 48, 48), np.uint8), np.arange(90) % 7, ids)
    left_out = [set(ids) - set(split.without_fold(k, 3).ids) for k in (1, 2, 3)]
    assert all(left_out) and set().union(*left_out) == set(ids) and sum(map(len, left_out)) == 90
    sample = split.sample(30, seed=1)
    assert set(sample.without_fold(2, 3).ids) == set(sample.ids) - left_out[1]
    np.testing.assert_array_equal(fer_data.fold_of(ids[::-1], 3), fer_data.fold_of(ids, 3)[::-1])


@pytest.mark.parametrize("text", ["3/2", "0/4", "1/1", "2", "a/b"])
def test_a_mistyped_holdout_is_refused_in_words(text):
    with pytest.raises(DatasetError, match="--holdout expects K/N"):
        fer_data.holdout_fold(text)
