"""Importing FER2013 as users download it: real zips, tar.gz files and CSVs made here, no mocks."""
import io
import subprocess
import sys
import tarfile
import time
import zipfile

import numpy as np
import pytest

from fercore import data_import
from fercore.data import EXPECTED_SIZES, load_fer2013
from fercore.data_import import import_dataset
from fercore.errors import DatasetError

from conftest import write_csv_dataset, write_folder_dataset

SIZES = {"train": 42, "public": 14, "private": 14}  # write_folder_dataset's default, 7 emotions


@pytest.fixture
def dataset(tmp_path):
    """The generated faces in both forms: a folder and a fer2013.csv."""
    root = tmp_path / "made" / "fer2013"
    written = write_folder_dataset(root)
    csv_path = tmp_path / "made" / "fer2013.csv"
    write_csv_dataset(csv_path, written)
    return root, csv_path, written


@pytest.fixture
def target(tmp_path):
    return tmp_path / "data" / "fer2013"


def zip_folder(root, zip_path, prefix="", compression=zipfile.ZIP_DEFLATED):
    with zipfile.ZipFile(zip_path, "w", compression) as archive:
        for path in sorted(root.rglob("*")):
            archive.write(path, prefix + path.relative_to(root).as_posix())
    return zip_path


def competition_tar_gz(csv_path, tar_path):
    """Like the competition's fer2013.tar.gz: fer2013/fer2013.csv next to a README."""
    readme = csv_path.parent / "README"
    readme.write_text("Challenges in Representation Learning: Facial Expression Recognition Challenge\n")
    with tarfile.open(tar_path, "w:gz") as archive:
        archive.add(readme, "fer2013/README")
        archive.add(csv_path, "fer2013/fer2013.csv")
    return tar_path


def snapshot(folder):
    """What a folder holds, to compare before and after a refused import (None: it does not exist)."""
    if not folder.exists():
        return None
    return sorted((p.relative_to(folder).as_posix(), p.stat().st_size) for p in folder.rglob("*"))


def assert_refused(source, target, match, **options):
    before = snapshot(target)
    with pytest.raises(DatasetError, match=match) as refusal:
        import_dataset(source, target, expected_sizes=options.pop("expected_sizes", SIZES), **options)
    assert "\n" not in str(refusal.value) and len(str(refusal.value)) < 300
    assert snapshot(target) == before
    assert not target.parent.exists() or not list(target.parent.glob(".*import-*"))
    return str(refusal.value)


def assert_holds_written_faces(target, written):
    splits = load_fer2013(target, use_cache=False)
    for name, (faces, labels) in written.items():
        assert len(splits[name]) == len(labels)
        assert list(splits[name].class_counts()) == list(np.bincount(labels, minlength=7))


# --- accepted downloads ------------------------------------------------------------------------

@pytest.mark.parametrize("prefix", ["", "archive/"])
def test_a_kaggle_folder_zip_imports_with_or_without_a_top_folder(dataset, target, tmp_path, prefix):
    root, _, written = dataset
    calls = []
    result = import_dataset(zip_folder(root, tmp_path / "archive.zip", prefix), target, expected_sizes=SIZES,
                            progress=lambda fraction, text: calls.append((fraction, text)))
    assert result == {"path": str(target), "form": "folders", "sizes": SIZES}
    assert sorted(p.name for p in target.iterdir()) == ["test", "train"]
    assert_holds_written_faces(target, written)
    fractions = [f for f, _ in calls]
    assert fractions == sorted(fractions) and fractions[-1] == 1.0 and len(calls) > 5
    assert not list(target.parent.glob(".*import-*"))


def test_a_plain_csv_imports(dataset, target):
    _, csv_path, written = dataset
    result = import_dataset(csv_path, target, expected_sizes=SIZES)
    assert result["form"] == "csv" and result["sizes"] == SIZES
    assert [p.name for p in target.iterdir()] == ["fer2013.csv"]
    assert_holds_written_faces(target, written)


def test_the_competition_tar_gz_imports_and_leaves_its_readme_out(dataset, target, tmp_path):
    _, csv_path, written = dataset
    result = import_dataset(competition_tar_gz(csv_path, tmp_path / "fer2013.tar.gz"), target, expected_sizes=SIZES)
    assert result["form"] == "csv"
    assert [p.name for p in target.iterdir()] == ["fer2013.csv"]
    assert_holds_written_faces(target, written)


def test_a_csv_inside_a_zip_imports(dataset, target, tmp_path):
    _, csv_path, written = dataset
    with zipfile.ZipFile(tmp_path / "fer2013.zip", "w", zipfile.ZIP_DEFLATED) as archive:
        archive.write(csv_path, "fer2013.csv")
    assert import_dataset(tmp_path / "fer2013.zip", target, expected_sizes=SIZES)["form"] == "csv"
    assert_holds_written_faces(target, written)


def test_an_upload_works_like_a_path(dataset, target, tmp_path):
    root, _, written = dataset
    upload = io.BytesIO(zip_folder(root, tmp_path / "archive.zip").read_bytes())
    upload.name = "archive.zip"  # as Streamlit's UploadedFile has
    upload.read(10)  # a page may have peeked at it
    assert import_dataset(upload, target, expected_sizes=SIZES)["form"] == "folders"
    assert_holds_written_faces(target, written)
    nameless = io.BytesIO((tmp_path / "archive.zip").read_bytes())
    assert import_dataset(nameless, target, filename="archive.zip", expected_sizes=SIZES)["sizes"] == SIZES


def test_importing_over_a_dataset_replaces_it(dataset, target, tmp_path):
    root, csv_path, written = dataset
    import_dataset(csv_path, target, expected_sizes=SIZES)
    other = write_folder_dataset(tmp_path / "other", n_per_class=(3, 1, 1))
    smaller = {"train": 21, "public": 7, "private": 7}
    import_dataset(zip_folder(tmp_path / "other", tmp_path / "other.zip"), target, expected_sizes=smaller)
    assert sorted(p.name for p in target.iterdir()) == ["test", "train"]  # the CSV went with the old copy
    assert_holds_written_faces(target, other)
    assert sorted(p.name for p in target.parent.iterdir()) == ["fer2013"]


# --- refusals: one sentence, target untouched, nothing left behind ------------------------------

def test_another_datasets_zip_says_what_was_expected(target, tmp_path):
    with zipfile.ZipFile(tmp_path / "cats.zip", "w") as archive:
        archive.writestr("cats/1.jpg", b"\xff\xd8 not a face")
    message = assert_refused(tmp_path / "cats.zip", target, "neither train/ and test/")
    assert "msambare/fer2013" in message and "fer2013.csv" in message


def test_a_truncated_zip_is_refused_and_an_existing_dataset_stays(dataset, target, tmp_path):
    root, csv_path, _ = dataset
    import_dataset(csv_path, target, expected_sizes=SIZES)
    whole = zip_folder(root, tmp_path / "archive.zip").read_bytes()
    (tmp_path / "cut.zip").write_bytes(whole[: len(whole) // 2])
    assert_refused(tmp_path / "cut.zip", target, "damaged or incomplete")
    assert (target / "fer2013.csv").is_file()


def test_a_truncated_tar_gz_is_refused(dataset, target, tmp_path):
    _, csv_path, _ = dataset
    whole = competition_tar_gz(csv_path, tmp_path / "fer2013.tar.gz").read_bytes()
    (tmp_path / "cut.tar.gz").write_bytes(whole[: len(whole) // 2])
    assert_refused(tmp_path / "cut.tar.gz", target, "damaged or incomplete")


def test_a_csv_with_the_wrong_columns_is_refused(target, tmp_path):
    (tmp_path / "faces.csv").write_text("label,image\n0,1 2 3\n")
    message = assert_refused(tmp_path / "faces.csv", target, r"lacks the column\(s\)")
    assert str(tmp_path) not in message.replace(str(tmp_path / "faces.csv"), "")  # no temporary paths


def test_a_csv_with_the_wrong_counts_is_refused(dataset, target):
    _, csv_path, _ = dataset
    message = assert_refused(csv_path, target, "has 42 Training faces; FER2013 has 28,709",
                             expected_sizes=EXPECTED_SIZES)
    assert message.endswith("Is it the full FER2013 download?")


def test_a_folder_zip_with_the_wrong_counts_is_refused(dataset, target, tmp_path):
    root, _, _ = dataset
    assert_refused(zip_folder(root, tmp_path / "archive.zip"), target, "42 Training faces; FER2013 has 28,709",
                   expected_sizes=EXPECTED_SIZES)


def test_wrong_emotion_folders_are_refused(dataset, target, tmp_path):
    root, _, _ = dataset
    (root / "train" / "angry").rename(root / "train" / "cross")
    assert_refused(zip_folder(root, tmp_path / "archive.zip"), target, r"unknown emotion folders \['cross'\]")


def test_a_zip_slip_member_is_refused_and_nothing_lands_outside(target, tmp_path):
    with zipfile.ZipFile(tmp_path / "evil.zip", "w") as archive:
        archive.writestr("train/angry/Training_1.jpg", b"x")
        archive.writestr("../evil.txt", b"gotcha")
    assert_refused(tmp_path / "evil.zip", target, "outside its folder")
    assert [p.name for p in tmp_path.rglob("evil*")] == ["evil.zip"]


def test_an_absolute_member_is_refused(target, tmp_path):
    with zipfile.ZipFile(tmp_path / "evil.zip", "w") as archive:
        info = zipfile.ZipInfo("x")
        info.filename = "/tmp/evil.txt"  # ZipInfo() strips a leading slash; a crafted zip need not
        archive.writestr(info, b"gotcha")
    assert_refused(tmp_path / "evil.zip", target, "outside its folder")


def test_a_tar_with_a_symlink_is_refused(dataset, target, tmp_path):
    _, csv_path, _ = dataset
    with tarfile.open(tmp_path / "fer2013.tar.gz", "w:gz") as archive:
        archive.add(csv_path, "fer2013/fer2013.csv")
        link = tarfile.TarInfo("fer2013/passwd")
        link.type, link.linkname = tarfile.SYMTYPE, "/etc/passwd"
        archive.addfile(link)
    assert_refused(tmp_path / "fer2013.tar.gz", target, "link or device")


def test_a_zip_bomb_is_refused_before_unpacking(target, tmp_path):
    started = time.time()
    with zipfile.ZipFile(tmp_path / "bomb.zip", "w", zipfile.ZIP_DEFLATED) as archive:
        with archive.open("fer2013.csv", "w") as member:
            zeros = bytes(1 << 20)
            for _ in range(300):
                member.write(zeros)
    assert (tmp_path / "bomb.zip").stat().st_size < 1_000_000
    assert_refused(tmp_path / "bomb.zip", target, "would unpack to 315 MB")
    assert time.time() - started < 10


def test_a_tar_gz_beyond_the_unpacked_limit_is_refused(target, tmp_path, monkeypatch):
    monkeypatch.setattr(data_import, "MAX_UNPACKED_BYTES", 1_000_000)
    with tarfile.open(tmp_path / "fer2013.tar.gz", "w:gz") as archive:
        info = tarfile.TarInfo("fer2013/fer2013.csv")
        info.size = 2_000_000
        archive.addfile(info, io.BytesIO(bytes(info.size)))
    assert_refused(tmp_path / "fer2013.tar.gz", target, "would unpack to 2 MB")


def test_too_many_members_are_refused(target, tmp_path, monkeypatch):
    monkeypatch.setattr(data_import, "MAX_MEMBERS", 5)
    with zipfile.ZipFile(tmp_path / "many.zip", "w") as archive:
        for i in range(6):
            archive.writestr(f"train/angry/Training_{i}.png", b"x")
    assert_refused(tmp_path / "many.zip", target, "more than 5 entries")


def test_a_file_over_the_size_limit_is_refused(dataset, target, monkeypatch):
    _, csv_path, _ = dataset
    monkeypatch.setattr(data_import, "MAX_IMPORT_BYTES", 1000)
    assert_refused(csv_path, target, "more than the 0 MB a FER2013 download can be")


def test_a_page_saved_under_the_zips_name_is_refused(target, tmp_path):
    (tmp_path / "archive.zip").write_text("<!DOCTYPE html><title>Sign in</title>")
    assert_refused(tmp_path / "archive.zip", target, "not a zip file despite its name")


def test_a_folder_with_other_files_is_never_replaced(dataset, tmp_path):
    _, csv_path, _ = dataset
    home = tmp_path / "home"
    home.mkdir()
    (home / "thesis.tex").write_text("precious")
    assert_refused(csv_path, home, "holds more than a FER2013 dataset")


# --- the command line --------------------------------------------------------------------------

def fercore(*args):
    return subprocess.run([sys.executable, "-m", "fercore", *map(str, args)], capture_output=True, text=True,
                          timeout=120)


def test_cli_imports_a_download_and_prints_the_counts(dataset, target, tmp_path, monkeypatch, capsys):
    from fercore import cli

    root, _, _ = dataset
    for name, size in SIZES.items():  # the CLI checks the official sizes; here the generated ones are official
        monkeypatch.setitem(EXPECTED_SIZES, name, size)
    assert cli.main(["data", "--import", str(zip_folder(root, tmp_path / "archive.zip")), "--data", str(target)]) == 0
    out, err = capsys.readouterr()
    assert "100%  Done" in err and f"into {target}" in err and len(err.splitlines()) <= 14
    assert f"FER2013 at {target}" in out
    assert [line.split()[:2] for line in out.splitlines()[2:]] == [["train", "42"], ["public", "14"], ["private", "14"]]


def test_cli_refuses_the_generated_zip_as_not_the_full_download(dataset, target, tmp_path):
    root, _, _ = dataset
    result = fercore("data", "--import", zip_folder(root, tmp_path / "archive.zip"), "--data", target)
    assert result.returncode == 2 and "Traceback" not in result.stderr
    assert result.stderr.strip().splitlines()[-1] == (
        "error: archive.zip has 42 Training faces; FER2013 has 28,709. Is it the full FER2013 download?")
    assert not target.exists()


def test_cli_refuses_a_bad_file_with_one_line(target, tmp_path):
    (tmp_path / "cats.zip").write_bytes(b"PK\x03\x04" + bytes(100))
    result = fercore("data", "--import", tmp_path / "cats.zip", "--data", target)
    assert result.returncode == 2
    assert result.stderr.strip().splitlines()[-1].startswith("error: cats.zip is damaged")
    assert "Traceback" not in result.stderr


# --- the real download --------------------------------------------------------------------------

def test_the_real_folder_layout_zipped_imports_with_the_official_sizes(real_data_path, tmp_path):
    source = real_data_path if (real_data_path / "train").is_dir() else None
    if source is None:
        pytest.skip("FER_DATA is not the Kaggle folder layout")
    download = zip_folder(source, tmp_path / "archive.zip", compression=zipfile.ZIP_STORED)
    target = tmp_path / "data" / "fer2013"
    started = time.time()
    result = import_dataset(download, target)
    assert result["sizes"] == EXPECTED_SIZES
    assert sum(1 for _ in (target / "train").rglob("*.jpg")) == EXPECTED_SIZES["train"]
    print(f"real import: {time.time() - started:.1f} s")
