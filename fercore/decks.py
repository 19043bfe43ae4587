"""Practice decks from an educator's or a family's own photos: each photo's face found and levelled as
FER2013 frames its faces, kept as a colour crop and its 48x48 grayscale reading copy; never the photo,
its file name or its metadata (the crops are encoded again from pixels). Photos come one by one with an
emotion each, or as a zip whose folders are named by emotion (FER2013's Kaggle layout); a deck moves
between computers as such a zip. No Streamlit and no TensorFlow here.
"""
from __future__ import annotations

import io
import json
import os
import zipfile
import zlib
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import PurePosixPath
from typing import BinaryIO, Callable, Iterable, NamedTuple

import cv2
import numpy as np
from PIL import Image

from fercore.data_import import _check_inflation, _is_clutter, _zip_member
from fercore.errors import DatasetError, FercoreError, ImageError
from fercore.faces import colour_crop, find_faces
from fercore.images import KEPT_SIDE, MAX_FILE_MB, decode_image, to_gray, to_rgb
from fercore.labels import EMOTIONS, FACE_SIZE, INDEX
from fercore.photo import draw_boxes
from fercore.quiz import DECK_FACE, QuizError, QuizPool, pool_of
from fercore.store import DECK_FACES_MAX, Deck, DeckFace, Store

CROP_SIDE = 192  # the colour crop: 4x FER2013's side, sharp on screen, about 10 KB as JPEG
JPEG_QUALITY = 90
MIN_FACE_SIDE = FACE_SIZE  # a face smaller than FER2013's own 48 pixels has too little to read
MAX_FACES_ASKED = 9  # a photo with more faces than this is a crowd: choose a photo of fewer people
MAX_PHOTO_BYTES = MAX_FILE_MB * 1024 * 1024
MAX_ZIP_ENTRIES = 4 * DECK_FACES_MAX  # photos, their folders and the clutter zip tools add
MAX_ZIP_UNPACKED = 2 * 1024**3
MANIFEST = "fercore-deck.json"  # in an exported deck: its name, and that its pictures are crops already

Progress = Callable[[float, str], None]


class DeckError(FercoreError):
    pass


class Skip(NamedTuple):
    """Why a file added no face, said of one file and of several: a zip of 500 bad files gets one line."""

    one: str
    many: str
    advice: str = ""


NOT_IMAGE = Skip("is not an image", "are not images", "fercore reads JPEG, PNG, WebP, BMP and TIFF photos.")
DAMAGED = Skip("is damaged", "are damaged", "Save or copy those photos again.")
TOO_LARGE = Skip("is too large", "are too large", f"A photo can be up to {MAX_FILE_MB} MB.")
TOO_SMALL = Skip("is too small to read", "are too small to read",
                 f"A face needs at least {MIN_FACE_SIDE} pixels across.")
NO_FACE = Skip("shows no face", "show no face", "A face seen from the front, well lit, works best.")
CROWD = Skip(f"shows more than {MAX_FACES_ASKED} faces", f"show more than {MAX_FACES_ASKED} faces",
             "Choose photos of fewer people, or crop them to the person.")
UNREADABLE = Skip("could not be read", "could not be read")
NAMES_SHOWN = 2  # file names given per reason: enough to find the others like them
NAME_SHOWN_MAX = 40  # characters of a file's name: a zip's names can be any length


@dataclass(frozen=True)
class FoundFace:
    crop: np.ndarray  # (CROP_SIDE, CROP_SIDE, 3) RGB, levelled
    reading: np.ndarray  # (48, 48) uint8, what the model reads


@dataclass(frozen=True)
class Photo:
    """One photo read for a deck: its faces in reading order, or why none can be added."""

    name: str  # the file's name, for the owner's screen only: never stored
    label: int  # the emotion the owner gave it
    faces: list[FoundFace]
    preview: np.ndarray | None = None  # the photo (screen-sized) with numbered boxes, when it has several faces
    problem: str | None = None
    skip: Skip | None = None  # the problem's kind, for skipped_summary

    @property
    def usable(self) -> bool:
        return self.problem is None


def read_photo(name: str, raw: bytes, label: int | str) -> Photo:
    """The faces in one photo's bytes; a photo without a usable face gets its reason."""
    label = INDEX[label] if isinstance(label, str) else int(label)
    try:
        image = decode_image(raw, within=KEPT_SIDE)
    except ImageError as exc:
        return _refused(name, label, _skip_of(exc), str(exc))
    gray = to_gray(image)
    faces, _ = find_faces(gray, max_faces=MAX_FACES_ASKED + 1)
    if not faces:
        return _refused(name, label, NO_FACE, "no face was found; a face seen from the front, well lit, works best.")
    big = [face for face in faces if face.box[2] >= MIN_FACE_SIDE]
    if not big:
        return _refused(name, label, TOO_SMALL, f"the face is only {max(f.box[2] for f in faces)} pixels across, "
                                                f"too small to read (at least {MIN_FACE_SIDE}).")
    if len(big) > MAX_FACES_ASKED:
        return _refused(name, label, CROWD, f"more than {MAX_FACES_ASKED} faces; choose a photo of fewer people, "
                                            "or crop it to the person.")
    rgb = to_rgb(image)
    found = [FoundFace(colour_crop(rgb, face, CROP_SIDE), face.crop) for face in big]
    return Photo(name, label, found, draw_boxes(rgb, big) if len(big) > 1 else None)


def read_photos(files: Iterable[tuple[str, bytes, int | str]], progress: Progress | None = None) -> list[Photo]:
    """(name, bytes, emotion) per photo -> a Photo each, in order. Face finding runs on every core."""
    files = list(files)
    report = progress or (lambda fraction, text: None)
    photos = []
    with ThreadPoolExecutor(max_workers=os.cpu_count() or 1) as pool:  # OpenCV lets go of the GIL
        for done, photo in enumerate(pool.map(lambda f: read_photo(*f), files), start=1):
            photos.append(photo)
            report(done / max(len(files), 1), f"Finding faces: {done} of {len(files)} photos")
    return photos


def read_zip(source: bytes | BinaryIO, name: str, progress: Progress | None = None) -> list[Photo]:
    """The photos of a zip whose folders are named by emotion. Raises DeckError, one sentence, for a zip
    that is damaged, not a zip, a zip bomb, holds a path outside its folder or a folder that is not an
    emotion; then nothing is read. A photo without a usable face is returned with its reason."""
    stream = io.BytesIO(source) if isinstance(source, bytes) else source
    stream.seek(0)
    if stream.read(4) not in (b"PK\x03\x04", b"PK\x05\x06"):
        raise DeckError(f"{name} is not a zip file; give photos one by one, or a zip of emotion folders.")
    stream.seek(0)
    try:
        with zipfile.ZipFile(stream) as archive:
            entries = _photo_entries(archive, name)
            exported = MANIFEST in archive.namelist()
            files = [(PurePosixPath(info.filename).name, _read_entry(archive, info), label) for info, label in entries]
    except (zipfile.BadZipFile, EOFError, zlib.error, ValueError, NotImplementedError):
        raise DeckError(f"{name} is damaged or incomplete and cannot be unpacked; make the zip again.") from None
    except DatasetError as exc:  # fercore.data_import's checks: links, paths outside the folder, bombs
        raise DeckError(str(exc)) from None
    if exported:
        return [_read_crop(*file) for file in files]
    return read_photos([f for f in files if f[1] is not None], progress) + [
        _refused(n, label, TOO_LARGE, f"the file is larger than {MAX_FILE_MB} MB.") for n, raw, label in files
        if raw is None]


def skipped_summary(photos: list[Photo]) -> str | None:
    """One paragraph on the photos that add no face: how many of all, why, a few of their names, what to do;
    None when every photo adds one."""
    skipped = [photo for photo in photos if not photo.usable]
    if not skipped:
        return None
    by_skip: dict[Skip, list[str]] = {}
    for photo in skipped:
        by_skip.setdefault(photo.skip or UNREADABLE, []).append(photo.name)
    reasons = sorted(by_skip.items(), key=lambda reason: -len(reason[1]))  # the commonest first
    why = ", ".join(f"{len(names)} {skip.many if len(names) > 1 else skip.one} ({_some(names)})"
                    for skip, names in reasons)
    advice = "".join(f" {skip.advice}" for skip, _ in reasons if skip.advice)
    files = f"{len(skipped)} of {len(photos)} file{'s' if len(photos) > 1 else ''}"
    return f"{files} {'was' if len(skipped) == 1 else 'were'} skipped: {why}.{advice}"


def add_faces(store: Store, code: str, token: str, chosen: Iterable[tuple[int, FoundFace]],
              permission: bool) -> int:
    """Store (emotion, face) pairs in the deck, all or none; returns how many were added."""
    return store.add_deck_faces(code, token, [(label, _jpeg(face.crop), _png(face.reading))
                                              for label, face in chosen], permission)


def faces_of(photos: Iterable[Photo], choices: dict[int, int] | None = None) -> list[tuple[int, FoundFace]]:
    """(emotion, face) for each usable photo: its only face, or the face chosen by number from 0
    (choices: the photo's position -> the face). A photo of several faces with no choice adds nothing."""
    choices = choices or {}
    chosen = []
    for i, photo in enumerate(photos):
        if photo.usable and (len(photo.faces) == 1 or i in choices):
            chosen.append((photo.label, photo.faces[choices.get(i, 0)]))
    return chosen


def face_pictures(faces: list[DeckFace]) -> tuple[list[np.ndarray], np.ndarray]:
    """The stored crops decoded: colour (RGB) pictures, and the (N, 48, 48) reading copies."""
    colour = [cv2.cvtColor(_decoded(face.crop, cv2.IMREAD_COLOR), cv2.COLOR_BGR2RGB) for face in faces]
    readings = np.stack([_decoded(face.reading, cv2.IMREAD_GRAYSCALE) for face in faces]) if faces else \
        np.zeros((0, FACE_SIZE, FACE_SIZE), np.uint8)
    return colour, readings


def deck_pool(store: Store, code: str, model: str, load_predictor: Callable) -> QuizPool:
    """A quiz pool of the deck's faces: the owner's labels, the model's readings, the colour pictures.
    model: the digest of the model the app uses (fercore.artifact.file_digest). Readings kept by that model
    are used as they are; the model (load_predictor() -> an object with .probabilities(faces)) reads only
    faces it has not read yet, and its readings are kept for the next time."""
    faces = store.deck_faces(code)
    if not faces:
        raise QuizError(f"The deck {code} has no faces yet: its owner adds them on the Practice decks page.")
    images = np.stack([_decoded(face.reading, cv2.IMREAD_GRAYSCALE) for face in faces])
    unread = [i for i, face in enumerate(faces) if face.model != model or face.readings is None]
    probabilities = np.stack([np.zeros(len(EMOTIONS), np.float32) if face.model != model or face.readings is None else
                              np.frombuffer(face.readings, np.float32) for i, face in enumerate(faces)])
    if unread:
        probabilities[unread] = load_predictor().probabilities(images[unread])
        store.keep_deck_readings(code, model, {faces[i].id: probabilities[i].astype(np.float32).tobytes()
                                               for i in unread})
    ids = np.array([f"{DECK_FACE}{code}:{face.id}" for face in faces])
    return pool_of(images, [face.label for face in faces], ids, probabilities, tuple(face.crop for face in faces))


def export_deck(store: Store, code: str, token: str) -> bytes:
    """The deck as a zip: a folder per emotion of its colour crops, and its name. Only the owner's token opens it."""
    deck = store.owned_deck(code, token)
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_STORED) as archive:  # JPEGs don't compress further
        archive.writestr(MANIFEST, json.dumps({"name": deck.name, "faces": deck.faces}))
        for number, face in enumerate(store.deck_faces(deck.code), start=1):
            archive.writestr(f"{EMOTIONS[face.label]}/{number:03d}.jpg", face.crop)
    return out.getvalue()


def import_deck(store: Store, source: bytes | BinaryIO, name: str, permission: bool,
                progress: Progress | None = None) -> tuple[Deck, str, str | None]:
    """A new deck from a zip (an exported deck, or emotion folders of photos, each photo's first face);
    returns the deck, its owner token and skipped_summary of the photos that added nothing."""
    photos = read_zip(source, name, progress)
    chosen = [(photo.label, photo.faces[0]) for photo in photos if photo.usable]
    if not chosen:
        raise DeckError(f"{name} holds no usable face, so no deck was made. {skipped_summary(photos)}")
    title = _manifest_name(source) or PurePosixPath(name).stem.replace("_", " ")[:60] or "Imported deck"
    deck, token = store.create_deck(title)
    try:
        add_faces(store, deck.code, token, chosen, permission)
    except FercoreError:
        store.delete_deck(deck.code, token)  # nothing half-made
        raise
    return store.open_deck(deck.code), token, skipped_summary(photos)


def _refused(name: str, label: int, skip: Skip, why: str) -> Photo:
    return Photo(name, label, [], problem=f"{name}: {why}", skip=skip)


def _skip_of(error: ImageError) -> Skip:
    """The kind of fercore.images' refusal, from its sentence (it has no other sign of it)."""
    text = str(error).lower()
    for words, skip in (("not an image", NOT_IMAGE), ("empty", NOT_IMAGE), ("damaged", DAMAGED),
                        ("large", TOO_LARGE), ("too small", TOO_SMALL)):
        if words in text:
            return skip
    return UNREADABLE


def _some(names: list[str]) -> str:
    shown = [name if len(name) <= NAME_SHOWN_MAX else name[: NAME_SHOWN_MAX - 1] + "…"
             for name in names[:NAMES_SHOWN]]
    return ", ".join(shown) + (f" and {len(names) - NAMES_SHOWN} more" if len(names) > NAMES_SHOWN else "")


def _photo_entries(archive: zipfile.ZipFile, name: str) -> list[tuple[zipfile.ZipInfo, int]]:
    infos = archive.infolist()
    if len(infos) > MAX_ZIP_ENTRIES:
        raise DeckError(f"{name} holds {len(infos):,} entries; a deck holds at most {DECK_FACES_MAX} faces.")
    members = [_zip_member(name, info, "a zip of photos") for info in infos]  # links, passwords, paths
    _check_inflation(name, sum(i.file_size for i in infos), sum(i.compress_size for i in infos),
                     MAX_ZIP_UNPACKED, "what a deck's photos need")
    entries = []
    for member in members:
        parts = member.parts
        if not member.is_file or not parts or _is_clutter(parts) or parts[-1] == MANIFEST:
            continue
        if len(parts) < 2:
            raise DeckError(f"{name} holds '{parts[-1]}' outside an emotion folder; put each photo in a folder "
                            f"named by its emotion ({', '.join(EMOTIONS)}).")
        folder = parts[-2].lower()
        if folder not in INDEX:
            raise DeckError(f"{name} has a folder named '{parts[-2]}', which is not one of the seven emotions "
                            f"({', '.join(EMOTIONS)}); rename it or take it out.")
        entries.append((member.handle, INDEX[folder]))
    if not entries:
        raise DeckError(f"{name} holds no photos; put them in folders named by emotion ({', '.join(EMOTIONS)}).")
    if len(entries) > DECK_FACES_MAX:
        raise DeckError(f"{name} holds {len(entries)} photos; a deck holds at most {DECK_FACES_MAX} faces.")
    return entries


def _read_entry(archive: zipfile.ZipFile, info: zipfile.ZipInfo) -> bytes | None:
    """The entry's bytes, or None past the photo limit; reads no further than that whatever its header says."""
    if info.file_size > MAX_PHOTO_BYTES:
        return None
    with archive.open(info) as entry:
        raw = entry.read(MAX_PHOTO_BYTES + 1)
    return None if len(raw) > MAX_PHOTO_BYTES else raw


def _read_crop(name: str, raw: bytes | None, label: int) -> Photo:
    """A picture from an exported deck: already a levelled face crop, so it is kept whole."""
    try:
        if raw is None:
            raise ImageError(f"The file is larger than {MAX_FILE_MB} MB.")
        image = decode_image(raw, within=KEPT_SIDE)  # a crop, but any picture may be in the zip
    except ImageError as exc:
        return _refused(name, label, _skip_of(exc), str(exc))
    rgb = cv2.resize(to_rgb(image), (CROP_SIDE, CROP_SIDE), interpolation=cv2.INTER_AREA)
    reading = cv2.resize(to_gray(image), (FACE_SIZE, FACE_SIZE), interpolation=cv2.INTER_AREA)
    return Photo(name, label, [FoundFace(rgb, reading)])


def _manifest_name(source: bytes | BinaryIO) -> str | None:
    stream = io.BytesIO(source) if isinstance(source, bytes) else source
    stream.seek(0)
    try:
        with zipfile.ZipFile(stream) as archive, archive.open(MANIFEST) as manifest:
            return str(json.loads(manifest.read(10_000))["name"])[:60] or None
    except (KeyError, ValueError, TypeError, zipfile.BadZipFile):
        return None


def _jpeg(rgb: np.ndarray) -> bytes:
    """Encoded from pixels: no EXIF, GPS or any other metadata of the photo can be in it."""
    out = io.BytesIO()
    Image.fromarray(rgb, "RGB").save(out, "JPEG", quality=JPEG_QUALITY)
    return out.getvalue()


def _png(gray: np.ndarray) -> bytes:
    return cv2.imencode(".png", gray)[1].tobytes()


def _decoded(raw: bytes, flags: int) -> np.ndarray:
    return cv2.imdecode(np.frombuffer(raw, np.uint8), flags)
