"""FER2013 as users download it (a zip, a tar.gz or a csv) -> a checked data folder.

Accepted: the Kaggle "msambare/fer2013" zip (train/<emotion>/, test/<emotion>/, perhaps under one top
folder) and the competition's fer2013.csv, plain or inside a .tar.gz/.tgz/.tar or .zip.

Everything is unpacked into a temporary folder next to the target, checked by loading it with the
ordinary loader, and only then moved into place, so a bad file leaves the data folder as it was.
Archives are treated as hostile: no member may land outside the folder, no links or devices, and
sizes are checked before anything is written. No Streamlit and no TensorFlow here.
"""
from __future__ import annotations

import contextlib
import gzip
import os
import re
import shutil
import tarfile
import tempfile
import zipfile
import zlib
from collections import Counter
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import BinaryIO, Callable, Iterator

from fercore.data import EXPECTED_SIZES, SPLITS, load_fer2013, resolve_data_path
from fercore.errors import DatasetError

MAX_IMPORT_BYTES = 500 * 1000 * 1000  # the largest download, fer2013.csv, is about 300 MB
MAX_UNPACKED_BYTES = 2 * 1024**3
MAX_RATIO = 100  # real downloads unpack to 1-4x their size; zip bombs to 1000x
RATIO_FLOOR = 10 * 1000 * 1000  # below this a high ratio is harmless (a small text file compresses well)
MAX_MEMBERS = 100_000  # FER2013 has 35,887 faces
CHUNK = 1 << 20

# Share of the progress bar per stage: unpacking, then decoding every face to check it, then moving.
UNPACKED_AT, CHECKED_AT = 0.5, 0.95

# What a data folder may hold for an import to replace it; anything else is the user's and stays.
DATASET_ENTRIES = {"train", "test", "fer2013.csv", ".DS_Store"}
ENDINGS = ((".zip", "zip"), (".tar.gz", "tar"), (".tgz", "tar"), (".tar", "tar"), (".csv", "csv"))
KIND_WORDS = {"zip": "zip", "tar": "tar.gz", "csv": "CSV"}

Progress = Callable[[float, str], None]


def import_dataset(source, target=None, *, filename: str | None = None, progress: Progress | None = None,
                   expected_sizes: dict[str, int] = EXPECTED_SIZES) -> dict:
    """Unpack, check and place a FER2013 download; returns {"path", "form", "sizes"}.

    source: a path or a seekable binary file object (e.g. Streamlit's UploadedFile); filename names a
    file object whose own name is missing. target: the data folder (default: $FER_DATA or data/fer2013).
    progress(fraction, text) is called as the work goes on. Any problem is one DatasetError sentence,
    and then the target is untouched and no temporary folder remains.
    """
    target = resolve_data_path(target)
    report = progress or (lambda fraction, text: None)
    with _opened(source, filename) as (stream, name):
        size = _size_of(stream)
        if size > MAX_IMPORT_BYTES:
            raise DatasetError(f"{name} is {size / 1e6:,.0f} MB, more than the {MAX_IMPORT_BYTES / 1e6:,.0f} MB "
                               "a FER2013 download can be.")
        kind = _kind_of(stream, name)
        _check_replaceable(target)
        report(0.0, f"Unpacking {name}")
        with _writing_next_to(target) as scratch:
            unpacked = scratch / "dataset"
            unpacked.mkdir()
            form = UNPACKERS[kind](stream, name, size, unpacked, report)
            sizes = _check(unpacked, name, expected_sizes, report)
            report(CHECKED_AT, "Moving it into place")
            if _place(unpacked, target, scratch):
                report(0.97, "Removing the previous copy")  # the scratch folder's removal deletes it
    report(1.0, "Done")
    return {"path": str(target), "form": form, "sizes": sizes}


# --- the source ---------------------------------------------------------------------------------

@contextlib.contextmanager
def _opened(source, filename: str | None) -> Iterator[tuple[BinaryIO, str]]:
    """A readable binary stream at its start, and the name to show in messages."""
    if isinstance(source, (str, os.PathLike)):
        path = Path(source).expanduser()
        if path.is_dir():
            raise DatasetError(f"{path} is a folder, not a download; to use an unpacked folder, point --data or "
                               "FER_DATA at it instead.")
        try:
            handle = open(path, "rb")
        except OSError as exc:
            raise DatasetError(f"Cannot read {path}: {exc.strerror}.") from None
        with handle:
            yield handle, filename or path.name
        return
    if not source.seekable():
        raise TypeError("import_dataset needs a path or a seekable binary file object")
    source.seek(0)  # the caller may have read it already; we never close what we did not open
    own_name = getattr(source, "name", None)
    yield source, filename or (Path(own_name).name if isinstance(own_name, str) and own_name else "The uploaded file")


def _size_of(stream: BinaryIO) -> int:
    size = stream.seek(0, os.SEEK_END)
    stream.seek(0)
    return size


def _kind_of(stream: BinaryIO, name: str) -> str:
    """zip, tar or csv: from the name's ending, confirmed by the first bytes (or from those alone)."""
    head = stream.read(512)
    stream.seek(0)
    if not head:
        raise DatasetError(f"{name} is empty.")
    by_content = ("zip" if head.startswith((b"PK\x03\x04", b"PK\x05\x06"))
                  else "tar" if head.startswith(b"\x1f\x8b") or head[257:262] == b"ustar"
                  else "csv" if b"\x00" not in head else None)
    by_name = next((kind for ending, kind in ENDINGS if name.lower().endswith(ending)), None)
    if by_name and by_content != by_name:
        # a browser's error page saved under the download's name, or a renamed file
        raise DatasetError(f"{name} is not a {KIND_WORDS[by_name]} file despite its name; download it again.")
    if by_content is None:
        raise DatasetError(f"{name} is not a zip, tar.gz or CSV file; FER2013 comes as one of those.")
    return by_content


# --- the target ---------------------------------------------------------------------------------

def _check_replaceable(target: Path) -> None:
    """Only an empty folder or an earlier FER2013 may be replaced: never a folder of the user's files."""
    if target.is_file():
        raise DatasetError(f"{target} is a file; import into a folder (--data FOLDER or FER_DATA=FOLDER).")
    if target.is_dir():
        try:
            others = sorted(p.name for p in target.iterdir() if p.name not in DATASET_ENTRIES)
        except OSError as exc:
            raise DatasetError(f"Cannot read {target}: {exc.strerror}.") from None
        if others:
            raise DatasetError(f"{target} holds more than a FER2013 dataset (e.g. '{others[0]}'); empty it or "
                               "import into another folder.")


@contextlib.contextmanager
def _writing_next_to(target: Path) -> Iterator[Path]:
    """A scratch folder beside target (same filesystem, so the final move is a rename), always removed."""
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        scratch = Path(tempfile.mkdtemp(prefix=f".{target.name}.import-", dir=target.parent))
    except OSError as exc:
        raise DatasetError(f"Cannot write next to {target}: {exc.strerror}.") from None
    try:
        yield scratch
    except OSError as exc:  # disk full, permissions: reading errors were turned into DatasetError already
        raise DatasetError(f"Cannot write the dataset next to {target}: {exc.strerror or exc}.") from None
    finally:
        shutil.rmtree(scratch, ignore_errors=True)


def _place(unpacked: Path, target: Path, scratch: Path) -> bool:
    """Swap the checked dataset in; the previous one goes into scratch (deleted with it) or comes back.
    True when there was a previous one."""
    previous = scratch / "previous"
    had_previous = os.path.lexists(target)
    if had_previous:
        os.replace(target, previous)
    try:
        os.replace(unpacked, target)
    except OSError:
        if had_previous:
            os.replace(previous, target)
        raise
    return had_previous


# --- unpacking ----------------------------------------------------------------------------------

@dataclass(frozen=True)
class _Member:
    parts: tuple[str, ...]  # the checked relative path
    size: int
    is_file: bool
    handle: object  # ZipInfo or TarInfo


def _unpack_csv(stream: BinaryIO, name: str, size: int, into: Path, report: Progress) -> str:
    meter = _Meter(name, size, 1, report)
    with open(into / "fer2013.csv", "wb") as out:
        meter.copy(stream, out)
    return "csv"


def _unpack_zip(stream: BinaryIO, name: str, size: int, into: Path, report: Progress) -> str:
    try:
        with zipfile.ZipFile(stream) as archive:
            infos = archive.infolist()
            _check_count(name, len(infos))
            members = [_zip_member(name, info) for info in infos]
            _check_inflation(name, sum(i.file_size for i in infos), sum(i.compress_size for i in infos))
            form, chosen = _choose(name, members)
            _extract(name, chosen, lambda m: archive.open(m.handle), into, report)
    except (zipfile.BadZipFile, EOFError, zlib.error, ValueError) as exc:
        raise _damaged(name) from exc
    except NotImplementedError:
        raise DatasetError(f"{name} uses a compression method Python cannot unpack; make a standard zip.") from None
    return form


def _zip_member(name: str, info: zipfile.ZipInfo, what: str = "a FER2013 archive") -> _Member:
    """Also used by fercore.decks for zips of photos, with its own `what`."""
    if info.flag_bits & 0x1:
        raise DatasetError(f"{name} is password-protected; {what} needs no password.")
    if (info.external_attr >> 16) & 0o170000 == 0o120000:  # a Unix symlink stored in the zip
        raise DatasetError(f"{name} holds a link ('{info.filename}'); {what} holds only plain files.")
    return _Member(_safe_parts(name, info.filename), info.file_size, not info.is_dir(), info)


def _unpack_tar(stream: BinaryIO, name: str, size: int, into: Path, report: Progress) -> str:
    try:
        # r:* also reads a plain tar: some browsers unzip a .tar.gz on the way and keep the name
        with tarfile.open(fileobj=stream, mode="r:*") as archive:
            members, declared = [], 0
            for info in archive:  # one header at a time, so a bomb is stopped before it is read through
                _check_count(name, len(members) + 1)
                if not (info.isfile() or info.isdir()):
                    raise DatasetError(f"{name} holds a link or device ('{info.name}'); a FER2013 archive holds "
                                       "only plain files.")
                members.append(_Member(_safe_parts(name, info.name), info.size, info.isfile(), info))
                declared += info.size
                _check_inflation(name, declared, size)
            form, chosen = _choose(name, members)
            _extract(name, chosen, lambda m: archive.extractfile(m.handle), into, report)
    except (tarfile.TarError, EOFError, zlib.error, gzip.BadGzipFile) as exc:
        raise _damaged(name) from exc
    return form


UNPACKERS = {"csv": _unpack_csv, "zip": _unpack_zip, "tar": _unpack_tar}


def _safe_parts(name: str, member_name: str) -> tuple[str, ...]:
    """The member's path as parts, refusing any that is absolute or climbs out with '..'."""
    normal = member_name.replace("\\", "/")  # zips made on Windows may use backslashes
    path = PurePosixPath(normal)
    if path.is_absolute() or re.match(r"[A-Za-z]:", normal) or ".." in path.parts:
        raise DatasetError(f"{name} holds an entry that would land outside its folder ('{member_name}'), "
                           "so it was not unpacked.")
    return path.parts


def _check_count(name: str, count: int) -> None:
    if count > MAX_MEMBERS:
        raise DatasetError(f"{name} holds more than {MAX_MEMBERS:,} entries, far more than FER2013's 35,887 "
                           "faces, so it was not unpacked.")


def _check_inflation(name: str, unpacked: int, packed: int, limit: int | None = None,
                     beyond: str = "FER2013's size") -> None:
    if unpacked > (limit or MAX_UNPACKED_BYTES) or (unpacked > RATIO_FLOOR and unpacked > MAX_RATIO * max(packed, 1)):
        raise DatasetError(f"{name} would unpack to {unpacked / 1e6:,.0f} MB from {packed / 1e6:,.1f} MB, far "
                           f"beyond {beyond}, so it was not unpacked.")


def _damaged(name: str) -> DatasetError:
    return DatasetError(f"{name} is damaged or incomplete (perhaps the download was cut off); download it again.")


def _is_clutter(parts: tuple[str, ...]) -> bool:
    """macOS adds __MACOSX/ and ._ files to zips it makes; hidden files are never faces."""
    return "__MACOSX" in parts or parts[-1].startswith(".")


def _choose(name: str, members: list[_Member]) -> tuple[str, list[tuple[_Member, tuple[str, ...]]]]:
    """Which members to unpack, and where: train/ and test/ emotion folders, else fer2013.csv."""
    files = [m for m in members if m.is_file and m.parts and not _is_clutter(m.parts)]
    roots = Counter(_face_root(m) for m in files if _face_root(m) is not None)
    if roots:
        root = roots.most_common(1)[0][0]  # e.g. () for the Kaggle zip, ("archive",) when re-zipped
        return "folders", [(m, m.parts[-3:]) for m in files if _face_root(m) == root]
    tables = [m for m in files if m.parts[-1].lower() == "fer2013.csv"]
    if tables:
        return "csv", [(min(tables, key=lambda m: len(m.parts)), ("fer2013.csv",))]
    if any(m.parts[-1].lower() in ("fer2013.tar.gz", "fer2013.tgz") for m in files):
        # the competition's "download all" zip wraps the real download
        raise DatasetError(f"{name} holds fer2013.tar.gz; import that file (or the fer2013.csv inside it) instead.")
    raise DatasetError(f"{name} holds neither train/ and test/ emotion folders nor a fer2013.csv; expected the "
                       "Kaggle 'msambare/fer2013' zip or the competition's fer2013.csv.")


def _face_root(member: _Member) -> tuple[str, ...] | None:
    """For <root>/train|test/<emotion>/<file>, the <root> parts; None for any other member."""
    if len(member.parts) >= 3 and member.parts[-3] in ("train", "test"):
        return member.parts[:-3]
    return None


def _extract(name: str, chosen: list, open_member: Callable, into: Path, report: Progress) -> None:
    meter = _Meter(name, sum(m.size for m, _ in chosen), len(chosen), report)
    made = set()
    for member, parts in chosen:
        dest = into.joinpath(*parts)
        if dest.parent not in made:
            dest.parent.mkdir(parents=True, exist_ok=True)
            made.add(dest.parent)
        with open_member(member) as src, open(dest, "wb") as out:
            meter.copy(src, out)
        meter.file_done()


class _Meter:
    """Counts the bytes written, stops at the limit whatever the headers said, and reports progress."""

    def __init__(self, name: str, total: int, files: int, report: Progress):
        self.name, self.total, self.files, self.report = name, max(total, 1), files, report
        self.written = self.done = 0
        self.last = -1.0

    def copy(self, src: BinaryIO, out: BinaryIO) -> None:
        while chunk := src.read(CHUNK):
            out.write(chunk)
            self.written += len(chunk)
            if self.written > MAX_UNPACKED_BYTES:  # headers can lie; the bytes cannot
                raise DatasetError(f"{self.name} unpacks to more than {MAX_UNPACKED_BYTES / 1e9:.1f} GB, far beyond "
                                   "FER2013's size, so it was not unpacked.")
            self._tell()

    def file_done(self) -> None:
        self.done += 1
        self._tell()

    def _tell(self) -> None:
        fraction = min(self.written / self.total, 1.0)
        if fraction - self.last >= 0.01 or self.done == self.files:  # about 100 calls, whatever the size
            self.last = fraction
            text = (f"Unpacking: {self.done:,} of {self.files:,} files" if self.files > 1
                    else f"Unpacking: {self.written / 1e6:,.0f} of {self.total / 1e6:,.0f} MB")
            self.report(UNPACKED_AT * fraction, text)


# --- checking -----------------------------------------------------------------------------------

def _check(unpacked: Path, name: str, expected_sizes: dict[str, int], report: Progress) -> dict[str, int]:
    """Load it as the app will, and compare the split sizes with the official ones."""
    report(UNPACKED_AT, "Checking every face")
    try:
        splits = load_fer2013(unpacked, use_cache=False)
    except DatasetError as exc:
        raise DatasetError(_short_reason(exc, unpacked, name)) from None
    sizes = {split: len(splits[split]) for split in SPLITS}
    for split, count in sizes.items():
        if count != expected_sizes[split]:
            raise DatasetError(f"{name} has {count:,} {SPLITS[split]} faces; FER2013 has "
                               f"{expected_sizes[split]:,}. Is it the full FER2013 download?")
    return sizes


def _short_reason(exc: DatasetError, unpacked: Path, name: str) -> str:
    """The loader's first line, about the file the user gave instead of our temporary folder."""
    first = str(exc).splitlines()[0]
    first = re.sub(r"^FER2013 not usable at " + re.escape(str(unpacked)) + r"[^:]*: ", "", first)
    first = first.replace(str(unpacked) + os.sep, "")
    return f"{name} is not a usable FER2013: {first}"
