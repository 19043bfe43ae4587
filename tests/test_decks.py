"""Practice decks from an owner's photos: faces found, levelled and kept as crops only, zips of emotion folders,
bad input, and a deck moved between computers. Photos are made from FER2013 test faces (tests/deck_photos.py);
tests that take `db` run on SQLite and on PostgreSQL."""
import functools
import io
import zipfile
from pathlib import Path

import cv2
import numpy as np
import pytest
from deck_photos import SECRET, jpeg_with_exif, labelled_faces, photo, photos_zip
from test_store import query

from fercore.decks import (CROP_SIDE, MANIFEST, DeckError, add_faces, deck_pool, export_deck, face_pictures,
                           faces_of, import_deck, read_photo, read_photos, read_zip, skipped_summary)
from fercore.quiz import next_question
from fercore.labels import EMOTIONS, INDEX
from fercore.store import Store


@functools.cache
def faces_of_fer2013(root: Path, n: int = 6) -> list[tuple[str, np.ndarray]]:
    return labelled_faces(root, n)


@pytest.fixture
def faces(real_data_path):
    return faces_of_fer2013(real_data_path)


def colourful(rgb: np.ndarray) -> bool:
    return float(np.abs(rgb[..., 0].astype(int) - rgb[..., 2]).mean()) > 10


def test_photos_become_levelled_colour_crops_and_nothing_of_the_photo_is_stored(db, store, faces):
    files = [(f"IMG_{i}_{SECRET}.jpg", jpeg_with_exif(photo([face], seed=i)), emotion)
             for i, (emotion, face) in enumerate(faces[:3])]
    photos = read_photos(files)
    assert [len(p.faces) for p in photos] == [1, 1, 1]
    deck, token = store.create_deck("Our family")
    assert add_faces(store, deck.code, token, faces_of(photos), permission=True) == 3

    stored = store.deck_faces(deck.code)
    assert [EMOTIONS[f.label] for f in stored] == [emotion for emotion, _ in faces[:3]]
    colour, readings = face_pictures(stored)
    assert all(c.shape == (CROP_SIDE, CROP_SIDE, 3) and colourful(c) for c in colour)
    assert readings.shape == (3, 48, 48)
    for found, reading in zip(photos, readings):  # the reading copy is the levelled FER2013-like crop
        assert np.abs(found.faces[0].reading.astype(int) - reading).max() <= 1
    # Only crops: no photo-sized picture, no EXIF or GPS, no file name anywhere in the deck's rows.
    rows = query(db, "SELECT * FROM deck_faces") + query(db, "SELECT * FROM decks")
    everything = b"".join(bytes(v) if isinstance(v, (bytes, memoryview)) else str(v).encode() for r in rows for v in r)
    for secret in (SECRET.encode(), b"Exif", b"PhoneMaker", b"IMG_"):
        assert secret not in everything
    assert all(cv2.imdecode(np.frombuffer(f.crop, np.uint8), cv2.IMREAD_UNCHANGED).shape[:2] == (CROP_SIDE,) * 2
               for f in stored)


def test_a_photo_with_several_faces_asks_which_and_a_photo_without_a_usable_face_says_why(faces):
    group = read_photo("group.jpg", jpeg_with_exif(photo([faces[0][1], faces[1][1]])), "happy")
    assert len(group.faces) == 2 and group.preview is not None
    assert faces_of([group]) == []  # not chosen yet: nothing added
    (label, chosen), = faces_of([group], {0: 1})
    assert label == INDEX["happy"] and chosen is group.faces[1]

    tiny = photo([face for _, face in faces[:3]], side=30)
    plain = np.full((480, 640, 3), 120, np.uint8)
    reasons = {name: read_photo(name, raw, "sad").problem for name, raw in [
        ("wall.jpg", jpeg_with_exif(plain)), ("tiny.jpg", jpeg_with_exif(tiny)), ("notes.txt", b"shopping list"),
        ("huge.jpg", b"\xff\xd8" + bytes(21 * 1024 * 1024))]}
    assert "no face was found" in reasons["wall.jpg"]
    assert "too small" in reasons["tiny.jpg"]
    assert "not an image" in reasons["notes.txt"]
    assert "20 MB" in reasons["huge.jpg"]
    assert all(r.startswith(name) and "\n" not in r for name, r in reasons.items())  # one sentence, naming the photo


def test_a_zip_of_emotion_folders_in_fer2013s_layout_gives_each_photo_its_folders_emotion(faces):
    progress = []
    photos = read_zip(photos_zip(faces), "family.zip", lambda fraction, text: progress.append(fraction))
    assert [EMOTIONS[p.label] for p in photos] == [emotion for emotion, _ in faces]
    assert all(len(p.faces) == 1 for p in photos) and progress[-1] == 1.0


def zipped(entries: dict[str, bytes]) -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, data in entries.items():
            archive.writestr(name, data)
    return out.getvalue()


@pytest.mark.parametrize("kind, message", [
    ("cut short", "damaged or incomplete"), ("a photo", "not a zip file"), ("bomb", "would unpack to"),
    ("path trick", "outside its folder"), ("unknown folder", "'joy', which is not one of the seven emotions"),
    ("loose photo", "outside an emotion folder")])
def test_a_bad_zip_gets_one_sentence_and_adds_nothing(store, faces, kind, message):
    picture = jpeg_with_exif(photo([faces[0][1]]))
    good = photos_zip(faces[:2])
    source = {"cut short": good[: len(good) // 2], "a photo": picture,
              "bomb": zipped({"happy/a.jpg": picture, "happy/b.jpg": bytes(30 * 1024 * 1024)}),
              "path trick": zipped({"happy/a.jpg": picture, "../../etc/sad/b.jpg": picture}),
              "unknown folder": zipped({"happy/a.jpg": picture, "joy/b.jpg": picture}),
              "loose photo": zipped({"happy/a.jpg": picture, "b.jpg": picture})}[kind]
    with pytest.raises(DeckError, match=message) as refused:
        import_deck(store, source, "family.zip", permission=True)
    assert "\n" not in str(refused.value)


def test_a_deck_exported_as_a_zip_imports_elsewhere_with_its_name_labels_and_faces(db, store, faces, tmp_path):
    deck, token = store.create_deck("Grandparents")
    add_faces(store, deck.code, token, faces_of(read_zip(photos_zip(faces[:4]), "family.zip")), permission=True)
    exported = export_deck(store, deck.code, token)
    with zipfile.ZipFile(io.BytesIO(exported)) as archive:  # FER2013's layout, crops only
        assert MANIFEST in archive.namelist() and all(n.endswith(".jpg") for n in archive.namelist() if n != MANIFEST)

    elsewhere = Store(tmp_path / "other-computer.sqlite3")
    moved, moved_token, skipped = import_deck(elsewhere, exported, "deck.zip", permission=True)
    assert (moved.name, moved.faces, skipped) == ("Grandparents", 4, None)
    before, after = store.deck_faces(deck.code), elsewhere.deck_faces(moved.code)
    assert sorted(f.label for f in before) == sorted(f.label for f in after)
    (_, old), (_, new) = face_pictures(before), face_pictures(after)
    assert np.abs(np.sort(old.reshape(4, -1).mean(1)) - np.sort(new.reshape(4, -1).mean(1))).max() < 3
    assert elsewhere.owned_deck(moved.code, moved_token) == moved


def bad_files_zip(not_images: int, too_large: int) -> bytes:
    """Emotion folders of text files and of files past the 20 MB a photo may be (random: they don't compress)."""
    out = io.BytesIO()
    rng = np.random.default_rng(0)
    with zipfile.ZipFile(out, "w", zipfile.ZIP_STORED) as archive:
        for i in range(not_images):
            archive.writestr(f"happy/note_{i:03d}.txt", b"shopping list")
        for i in range(too_large):
            archive.writestr(f"sad/big_{i}.jpg", b"\xff\xd8" + rng.bytes(21 * 1024 * 1024))
    return out.getvalue()


def test_a_zip_of_many_unusable_files_is_summed_up_in_one_sentence_naming_a_few_of_them(store):
    photos = read_zip(bad_files_zip(497, 2), "family.zip")
    assert skipped_summary(photos) == (
        "499 of 499 files were skipped: 497 are not images (note_000.txt, note_001.txt and 495 more), 2 are too "
        "large (big_0.jpg, big_1.jpg). fercore reads JPEG, PNG, WebP, BMP and TIFF photos. A photo can be up to "
        "20 MB.")
    with pytest.raises(DeckError, match="no deck was made. 499 of 499 files were skipped: 497 are not images") as no:
        import_deck(store, bad_files_zip(497, 2), "family.zip", permission=True)
    assert "\n" not in str(no.value) and "note_002" not in str(no.value)


def test_photos_given_one_by_one_that_add_no_face_are_summed_up_with_what_to_do():
    wall = cv2.imencode(".jpg", np.full((480, 640, 3), 120, np.uint8))[1].tobytes()
    photos = read_photos([("wall.jpg", wall, "sad"), ("notes.txt", b"shopping list", "happy")])
    assert skipped_summary(photos) == ("2 of 2 files were skipped: 1 shows no face (wall.jpg), 1 is not an image "
                                       "(notes.txt). A face seen from the front, well lit, works best. fercore reads "
                                       "JPEG, PNG, WebP, BMP and TIFF photos.")
    assert skipped_summary([]) is None


class CountingReader:
    """Stands in for the model: a fixed reading per face's brightness, and how many faces it was asked to read."""

    def __init__(self):
        self.read = 0

    def probabilities(self, faces):
        self.read += len(faces)
        out = np.full((len(faces), 7), 0.05, np.float32)
        out[np.arange(len(faces)), np.asarray(faces).reshape(len(faces), -1).mean(1).astype(int) % 7] = 0.7
        return out


def test_a_decks_quiz_pool_shows_colour_faces_and_keeps_the_models_readings_so_no_quiz_waits_for_it(store, faces):
    deck, token = store.create_deck("Family")
    add_faces(store, deck.code, token, faces_of(read_zip(photos_zip(faces[:4]), "family.zip")), permission=True)
    reader = CountingReader()
    first = deck_pool(store, deck.code, "model-a", lambda: reader)
    again = deck_pool(store, deck.code, "model-a", lambda: reader)
    assert reader.read == 4 and np.array_equal(first.probabilities, again.probabilities)  # read once, then kept
    deck_pool(store, deck.code, "model-b", lambda: reader)  # another model reads them again
    assert reader.read == 8
    question = next_question(again, [], level=4)
    assert question.face_id.startswith(f"deck:{deck.code}:") and question.picture.shape == (CROP_SIDE, CROP_SIDE, 3)
    assert colourful(question.picture) and EMOTIONS[question.true_label] in {e for e, _ in faces[:4]}
