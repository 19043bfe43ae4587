"""FER2013 on disk -> numpy arrays, in either form users have it, with a cache for fast reloads.

Two forms are read:
- the Kaggle folder layout: ``train/<emotion>/*.jpg`` and ``test/<emotion>/*.jpg`` where the file
  name prefix (``Training_``, ``PublicTest_``, ``PrivateTest_``) carries the official split;
- the original ``fer2013.csv`` with columns ``emotion,pixels,Usage``.

Both give the same three splits. No TensorFlow here: the quiz needs faces without a model.
"""
from __future__ import annotations

import csv
import hashlib
import os
import zlib
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from fercore.errors import DatasetError
from fercore.labels import EMOTIONS, FACE_SIZE, INDEX, NUM_CLASSES

PROJECT_ROOT = Path(__file__).resolve().parent.parent
DEFAULT_DATA = PROJECT_ROOT / "data" / "fer2013"

# Our short split names -> the official Usage names (also the file name prefixes).
SPLITS = {"train": "Training", "public": "PublicTest", "private": "PrivateTest"}
USAGE_TO_SPLIT = {usage: name for name, usage in SPLITS.items()}
TEST_SPLITS = ("public", "private")  # the faces no model trains on: the quiz's, and the evaluation's
EXPECTED_SIZES = {"train": 28709, "public": 3589, "private": 3589}

WHERE_TO_GET = (
    "FER2013 comes from Kaggle: the folder layout as the 'msambare/fer2013' dataset, or the original "
    "fer2013.csv from the 'Challenges in Representation Learning: Facial Expression Recognition "
    "Challenge' competition. Point fercore at it with --data PATH or the FER_DATA variable."
)
EXPECTED_LAYOUT = (
    "expected either a folder holding train/<emotion>/ and test/<emotion>/ with files named "
    "Training_*.jpg, PublicTest_*.jpg, PrivateTest_*.jpg, or a fer2013.csv with the columns "
    "emotion,pixels,Usage"
)
IMAGE_SUFFIXES = {".jpg", ".jpeg", ".png", ".bmp"}


@dataclass(frozen=True)
class Split:
    """One split of FER2013: faces as uint8 (N, 48, 48), labels as class indices, ids as strings."""

    name: str
    images: np.ndarray
    labels: np.ndarray
    ids: np.ndarray

    def __len__(self) -> int:
        return len(self.labels)

    def class_counts(self) -> np.ndarray:
        return np.bincount(self.labels, minlength=NUM_CLASSES)

    def sample(self, k: int | None, seed: int = 0) -> Split:
        """A random subset of k faces (all of them when k is None or too large)."""
        if k is None or k >= len(self):
            return self
        pick = np.sort(np.random.default_rng(seed).choice(len(self), size=k, replace=False))
        return Split(self.name, self.images[pick], self.labels[pick], self.ids[pick])

    def without_fold(self, fold: int, folds: int) -> Split:
        """These faces less those of one fold (see fold_of)."""
        keep = fold_of(self.ids, folds) != fold
        return Split(self.name, self.images[keep], self.labels[keep], self.ids[keep])


def fold_of(ids: np.ndarray, folds: int) -> np.ndarray:
    """Each face's fold, 1 to `folds`, from a hash of its id: the same in any sample or order."""
    return np.array([zlib.crc32(str(face_id).encode()) % folds + 1 for face_id in ids], dtype=np.int64)


def holdout_fold(text: str) -> tuple[int, int]:
    """'K/N' -> (K, N): leave out fold K of N."""
    fold, _, folds = str(text).partition("/")
    if not (fold.isdigit() and folds.isdigit() and 1 <= int(fold) <= int(folds) and int(folds) >= 2):
        raise DatasetError(f"--holdout expects K/N, fold K of N folds with 1 <= K <= N and N >= 2, got '{text}'.")
    return int(fold), int(folds)


def resolve_data_path(path: str | os.PathLike | None = None) -> Path:
    """--data, else FER_DATA, else data/fer2013 in the project."""
    chosen = path or os.environ.get("FER_DATA") or DEFAULT_DATA
    return Path(chosen).expanduser()


def locate_source(path: str | os.PathLike | None = None) -> Path:
    """The fer2013.csv or the folder holding train/ and test/; DatasetError when neither is there.
    Decodes nothing, so pages can check for the data at once."""
    return _find_source(resolve_data_path(path))


def cache_dir() -> Path:
    return Path(os.environ.get("FER_CACHE") or PROJECT_ROOT / "data" / "cache")


def load_fer2013(path: str | os.PathLike | None = None, use_cache: bool = True,
                 splits: tuple[str, ...] = tuple(SPLITS)) -> dict[str, Split]:
    """The chosen splits (default all: "train", "public", "private") -> Split.

    The first load decodes the source; later loads read a cache that is rebuilt whenever the
    source's file listing (names, sizes, times) changes. Asking only for TEST_SPLITS decodes a fifth
    of the faces, which is what the quiz needs.
    """
    wanted = tuple(name for name in SPLITS if name in splits)
    source = _find_source(resolve_data_path(path))
    files = None if source.is_file() else _image_files(source)
    key = _source_key(source, files, wanted)
    cache = cache_dir() / f"fer2013-{hashlib.sha1(f'{source}|{wanted}'.encode()).hexdigest()[:12]}.npz"
    if use_cache:
        cached = _read_cache(cache, key, wanted)
        if cached is not None:
            return cached
    loaded = _read_csv(source, wanted) if files is None else _read_folders(source, files, wanted)
    if use_cache:
        _write_cache(cache, key, loaded)
    return loaded


def load_split(name: str, path: str | os.PathLike | None = None) -> Split:
    if name not in SPLITS:
        raise DatasetError(f"Unknown split '{name}': choose one of {', '.join(SPLITS)}.")
    return load_fer2013(path)[name]


def fingerprint(splits: dict[str, Split]) -> str:
    """A short content hash of the faces and labels, recorded with every trained model."""
    digest = hashlib.sha256()
    for name in sorted(splits):
        digest.update(name.encode())
        digest.update(np.ascontiguousarray(splits[name].images).tobytes())
        digest.update(splits[name].labels.astype(np.int8).tobytes())
    return digest.hexdigest()[:16]


def _problem(path: Path, what: str) -> DatasetError:
    return DatasetError(f"FER2013 not usable at {path}: {what}.\nfercore {EXPECTED_LAYOUT}.\n{WHERE_TO_GET}")


def _find_source(path: Path) -> Path:
    """The CSV file or the folder holding train/ and test/; a clear error otherwise."""
    if not path.exists():
        raise _problem(path, "that path does not exist")
    if path.is_file():
        if path.suffix.lower() != ".csv":
            raise _problem(path, "that is a file but not a .csv")
        return path
    if (path / "train").is_dir() or (path / "test").is_dir():
        return path
    if (path / "fer2013.csv").is_file():
        return path / "fer2013.csv"
    for child in sorted(p for p in path.iterdir() if p.is_dir()):
        if (child / "train").is_dir() or (child / "fer2013.csv").is_file():
            return _find_source(child)  # a dataset unpacked one level down, e.g. data/fer2013/fer2013/
    raise _problem(path, "found neither train/ and test/ folders nor a fer2013.csv there")


def _image_files(root: Path) -> list[str]:
    """Every image's path under train/ and test/, in a stable order. Plain strings: 35,887 Path
    objects cost about a second to build and sort on a small CPU."""
    files = []
    for part in ("train", "test"):
        if not (root / part).is_dir():
            continue
        for emotion in sorted(entry.name for entry in os.scandir(root / part) if entry.is_dir()):
            folder = os.path.join(root, part, emotion)
            names = sorted(n for n in os.listdir(folder) if os.path.splitext(n)[1].lower() in IMAGE_SUFFIXES)
            files.extend(os.path.join(folder, name) for name in names)
    return files


def _source_key(source: Path, files: list[str] | None, wanted: tuple[str, ...]) -> str:
    """Changes whenever a file of the wanted splits is added, removed, rewritten or touched."""
    digest = hashlib.sha1()
    for p in [source] if files is None else [f for f in files if _split_of(f) in wanted]:
        st = os.stat(p)
        digest.update(f"{p}|{st.st_size}|{st.st_mtime_ns}\n".encode())
    return digest.hexdigest()


def _read_cache(cache: Path, key: str, wanted: tuple[str, ...]) -> dict[str, Split] | None:
    try:
        with np.load(cache, allow_pickle=False) as stored:
            if str(stored["source_key"]) != key:
                return None
            return {
                name: Split(name, stored[f"{name}_images"], stored[f"{name}_labels"], stored[f"{name}_ids"])
                for name in wanted
            }
    except (OSError, KeyError, ValueError):
        return None  # missing or damaged cache: decode the source again


def _write_cache(cache: Path, key: str, splits: dict[str, Split]) -> None:
    arrays = {"source_key": np.array(key)}
    for name, split in splits.items():
        arrays |= {f"{name}_images": split.images, f"{name}_labels": split.labels, f"{name}_ids": split.ids}
    try:
        cache.parent.mkdir(parents=True, exist_ok=True)
        tmp = cache.with_name(f"{cache.stem}.{os.getpid()}.tmp.npz")  # app servers starting together each write
        np.savez(tmp, **arrays)
        os.replace(tmp, cache)  # atomic: a reader never sees half a cache
    except OSError:
        pass  # a read-only project still works, only slower


def _split_of(file: str) -> str | None:
    usage = os.path.basename(file).split("_", 1)[0]
    return USAGE_TO_SPLIT.get(usage)


def _emotion_of(file: str) -> str:
    return os.path.basename(os.path.dirname(file))


def _read_faces(files: list[str]) -> list[np.ndarray | None]:
    return [_read_face(file) for file in files]


def _read_face(file: str) -> np.ndarray | None:
    face = cv2.imread(file, cv2.IMREAD_GRAYSCALE)
    if face is not None and face.shape != (FACE_SIZE, FACE_SIZE):
        face = cv2.resize(face, (FACE_SIZE, FACE_SIZE), interpolation=cv2.INTER_AREA)
    return face


def _read_folders(root: Path, files: list[str], wanted: tuple[str, ...]) -> dict[str, Split]:
    if not files:
        raise _problem(root, "train/ and test/ hold no images")
    unknown_emotions = sorted({_emotion_of(f) for f in files} - set(EMOTIONS))
    if unknown_emotions:
        raise _problem(root, f"unknown emotion folders {unknown_emotions}; expected {list(EMOTIONS)}")
    unsplit = [f for f in files if _split_of(f) is None]
    if unsplit:
        raise _problem(root, f"{len(unsplit)} files lack a split prefix, e.g. {os.path.basename(unsplit[0])}")
    files = [f for f in files if _split_of(f) in wanted]

    chunks = [files[i:i + 512] for i in range(0, len(files), 512)]  # a task per face costs more than its decoding
    with ThreadPoolExecutor(max_workers=os.cpu_count() or 2) as pool:  # cv2 releases the GIL
        faces = [face for chunk in pool.map(_read_faces, chunks) for face in chunk]
    unreadable = [f for f, face in zip(files, faces) if face is None]
    if unreadable:
        names = ", ".join(unreadable[:3])
        raise _problem(root, f"{len(unreadable)} image files could not be decoded ({names}); remove or replace them")

    splits = {}
    for name in wanted:
        chosen = [i for i, f in enumerate(files) if _split_of(f) == name]
        splits[name] = Split(
            name,
            np.stack([faces[i] for i in chosen]) if chosen else np.zeros((0, FACE_SIZE, FACE_SIZE), np.uint8),
            np.array([INDEX[_emotion_of(files[i])] for i in chosen], dtype=np.int64),
            np.array([os.path.splitext(os.path.basename(files[i]))[0] for i in chosen], dtype=str),
        )
    return splits


def _read_csv(csv_path: Path, wanted: tuple[str, ...]) -> dict[str, Split]:
    rows: dict[str, tuple[list, list, list]] = {name: ([], [], []) for name in wanted}
    skipped = set(SPLITS) - set(wanted)
    try:
        with open(csv_path, newline="", encoding="utf-8-sig") as handle:  # Excel adds a byte-order mark
            reader = csv.DictReader(handle)
            missing = {"emotion", "pixels", "Usage"} - set(reader.fieldnames or [])
            if missing:
                raise _problem(csv_path, f"the CSV lacks the column(s) {sorted(missing)}")
            for line, row in enumerate(reader, start=2):
                if USAGE_TO_SPLIT.get((row.get("Usage") or "").strip()) in skipped:
                    continue  # a split not asked for: its pixels need no parsing
                name, face, label = _parse_row(row, csv_path, line)
                images, labels, ids = rows[name]
                images.append(face)
                labels.append(label)
                ids.append(f"{SPLITS[name]}_csv{line:05d}")
    except (UnicodeDecodeError, csv.Error) as exc:
        raise _problem(csv_path, f"it is not a readable CSV ({exc})") from None
    if not any(labels for _, labels, _ in rows.values()):
        raise _problem(csv_path, "the CSV holds no faces")
    return {
        name: Split(
            name,
            np.stack(images) if images else np.zeros((0, FACE_SIZE, FACE_SIZE), np.uint8),
            np.array(labels, dtype=np.int64),
            np.array(ids, dtype=str),
        )
        for name, (images, labels, ids) in rows.items()
    }


def _parse_row(row: dict, csv_path: Path, line: int) -> tuple[str, np.ndarray, int]:
    name = USAGE_TO_SPLIT.get((row.get("Usage") or "").strip())
    if name is None:
        raise _problem(csv_path, f"line {line}: Usage '{row.get('Usage')}' is not one of {list(SPLITS.values())}")
    try:
        label = int(row["emotion"])
        pixels = np.array((row["pixels"] or "").split(), dtype=np.int64)
    except (TypeError, ValueError):
        raise _problem(csv_path, f"line {line}: emotion or pixels are not numbers") from None
    if not 0 <= label < NUM_CLASSES:
        raise _problem(csv_path, f"line {line}: emotion {label} is outside 0-{NUM_CLASSES - 1}")
    if pixels.size != FACE_SIZE * FACE_SIZE or pixels.min() < 0 or pixels.max() > 255:
        raise _problem(csv_path, f"line {line}: expected {FACE_SIZE * FACE_SIZE} pixel values 0-255, got {pixels.size}")
    return name, pixels.astype(np.uint8).reshape(FACE_SIZE, FACE_SIZE), label
