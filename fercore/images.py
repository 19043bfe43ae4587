"""Decoding images people bring (any common format, size or mode) into upright arrays, safely."""
from __future__ import annotations

import ctypes
import io
import math
import logging
import sys
import threading
from contextlib import contextmanager
from pathlib import Path

import cv2
import numpy as np
from PIL import Image, UnidentifiedImageError

from fercore.errors import ImageError
from fercore.labels import FACE_SIZE

_log = logging.getLogger(__name__)

FORMATS = ("JPEG", "PNG", "WEBP", "BMP", "TIFF")
FORMAT_NAMES = "JPEG, PNG, WebP, BMP or TIFF"
MAX_PIXELS = 60_000_000  # above this, refuse: a decompression bomb or far more than a face needs
MAX_SIDE = 30_000
MAX_FILE_MB = 20  # a phone photo is a few MB; the server accepts larger files only for the FER2013 import
MIN_SIDE = 16
# Decoded uploads are kept at most this long a side: a screen's worth, and all that face finding reads
# (fercore.faces.FINE_SIDE). A 56-megapixel photo then holds about 10 MB of memory, not 170.
KEPT_SIDE = 2048
# A decode this big (after a JPEG's reduced decode) holds over 60 MB (Pillow keeps RGB at 4 bytes a pixel):
# only HEAVY_DECODES of them run at once in a process, so a few huge uploads cannot stack up their memory.
# A 12-megapixel phone photo stays under it.
HEAVY_PIXELS = 16_000_000
# Neither Pillow nor OpenCV decodes a WebP reduced, and Pillow holds four full-size copies while it decodes
# one (_heavy): a 60-megapixel WebP of 2 KB took 900 MB. At this limit one takes about 250 MB, as a PNG at
# MAX_PIXELS does; a phone's 12-megapixel WebP passes.
MAX_WEBP_PIXELS = HEAVY_PIXELS
HEAVY_DECODES = 1
HEAVY_WAIT_S = 60
STRIP_PIXELS = 1 << 20  # a large image is made RGB or L and reduced a strip of about this size at a time
_TRANSPOSE = {2: Image.Transpose.FLIP_LEFT_RIGHT, 3: Image.Transpose.ROTATE_180, 4: Image.Transpose.FLIP_TOP_BOTTOM,
              5: Image.Transpose.TRANSPOSE, 6: Image.Transpose.ROTATE_270, 7: Image.Transpose.TRANSVERSE,
              8: Image.Transpose.ROTATE_90}  # EXIF orientation -> the turn that makes the photo upright
_SIDEWAYS = {Image.Transpose.TRANSPOSE, Image.Transpose.ROTATE_270, Image.Transpose.TRANSVERSE,
             Image.Transpose.ROTATE_90}


def decode_image(raw: bytes, within: int | None = None) -> Image.Image:
    """Bytes -> an upright RGB or L PIL image, shrunk (aspect kept) to at most `within` pixels a side when
    given. A larger image is decoded reduced where the format allows (JPEG at 1/2, 1/4 or 1/8 scale) and
    otherwise reduced straight after decoding, so no full-size copy outlives the decode.
    Raises ImageError with a message for a person."""
    if not raw:
        raise ImageError("The file is empty.")
    if len(raw) > MAX_FILE_MB * 1024 * 1024:
        raise ImageError(f"The file is {len(raw) / 1024 / 1024:.0f} MB: fercore reads photos up to {MAX_FILE_MB} MB.")
    try:
        # Only the formats we name: Pillow would otherwise also try EPS (Ghostscript), PSD, ICO...
        image = Image.open(io.BytesIO(raw), formats=FORMATS)
    except UnidentifiedImageError as exc:
        if _has_supported_signature(raw):  # a JPEG or PNG... whose header does not parse
            raise _damaged(exc) from None
        raise ImageError(f"This file is not an image fercore can read ({FORMAT_NAMES}).") from None
    except Image.DecompressionBombError:
        raise ImageError(_too_large_message()) from None
    except Exception as exc:  # parsers of untrusted bytes raise many types
        raise _damaged(exc) from None
    _check_size(*image.size)  # from the header, before any pixel is decoded
    if image.format == "WEBP" and image.width * image.height > MAX_WEBP_PIXELS:
        raise ImageError(f"This WebP image is too large ({image.width}x{image.height} pixels): fercore reads WebP "
                         f"up to {MAX_WEBP_PIXELS // 1_000_000} megapixels. Save it as JPEG or PNG, or make it smaller.")
    full_size = image.size
    drafted = _draft(image, within) if within and image.format in ("JPEG", "MPO") else 1  # MPO: a phone's JPEG
    with _heavy_slot(_heavy(image)):
        try:
            upright = _decoded_upright(image, full_size, drafted, within)
        except Exception as exc:
            image.close()
            raise _damaged(exc) from None
        del image  # before the slot gives memory back: a WebP's decoder holds a full-size canvas until then
        return upright


def _heavy(image: Image.Image) -> bool:
    # Pillow's WebP decode holds four full-size copies at once (libwebp's two canvases, the frame's bytes and
    # the image); other formats hold one.
    return image.width * image.height * (4 if image.format == "WEBP" else 1) > HEAVY_PIXELS


def _draft(jpeg: Image.Image, side: int) -> float:
    """Asks libjpeg for the smallest of 1/2, 1/4, 1/8 scale that keeps the longest side at least `side`;
    returns how many times smaller the decode will be."""
    width, height = jpeg.size
    scale = max(width, height) / side
    if scale < 2:
        return 1
    drafted = jpeg.draft(None, (max(1, int(width / scale)), max(1, int(height / scale))))
    return width / drafted[1][2] if drafted else 1  # its box: the whole image, in the decode's pixels


def _decoded_upright(image: Image.Image, full_size: tuple[int, int], drafted: float,
                     within: int | None) -> Image.Image:
    """The pixels made RGB or L, shrunk to `within` a side if given (to the size fit_within gives the whole
    image) and turned upright. The full-size decode is let go before the final resize."""
    image.load()  # Pillow's LOAD_TRUNCATED_IMAGES stays False, so a cut-short file raises here
    turn = _TRANSPOSE.get(image.getexif().get(0x0112))  # phones store portrait shots sideways plus a tag
    factor = max(1, max(image.size) // within) if within else 1
    small = _normalised_and_reduced(image, factor)
    if small is not image:
        image.close()  # frees the decoded buffer now, not whenever the last reference goes
    if within:
        small = _fitted(small, full_size, drafted * factor, within, turn in _SIDEWAYS)
    return small.transpose(turn) if turn is not None else small


def _fitted(small: Image.Image, full_size: tuple[int, int], scale: float, side: int, sideways: bool) -> Image.Image:
    """`small`, the whole image reduced `scale` times (its last row and column of blocks maybe partial), at the
    size fit_within gives the upright whole image, read from exactly the area the whole image covers."""
    width, height = full_size
    size = _fitted_size(height, width, side)[::-1] if sideways else _fitted_size(width, height, side)
    if size == small.size:
        return small
    return small.resize(size, Image.Resampling.LANCZOS, box=(0, 0, width / scale, height / scale))


def _fitted_size(width: int, height: int, side: int) -> tuple[int, int]:
    """The size Image.thumbnail((side, side)) makes of width x height: aspect kept, rounded as Pillow rounds."""
    if width <= side and height <= side:
        return width, height
    aspect = width / height
    if width <= height:
        return _nearest(side * aspect, lambda n: abs(aspect - n / side)), side
    return side, _nearest(side / aspect, lambda n: abs(aspect - side / n) if n else 0)


def _nearest(number: float, error) -> int:
    return max(min(math.floor(number), math.ceil(number), key=error), 1)


def _normalised_and_reduced(image: Image.Image, factor: int) -> Image.Image:
    """RGB or L, reduced `factor` times by averaging, made a strip at a time: beside the decoded image only
    a strip and the result are held (converting a whole 60-megapixel RGBA image copies it twice over)."""
    if factor == 1 and image.mode in ("RGB", "L"):
        return image
    value_range = _value_range(image)
    width, height = image.size
    rows = factor * max(1, STRIP_PIXELS // (width * factor))  # whole blocks: as if reduced in one go
    out = None
    for top in range(0, height, rows):
        strip = _normalise_mode(image.crop((0, top, width, min(top + rows, height))), value_range).reduce(factor)
        if out is None:
            out = Image.new(strip.mode, (-(-width // factor), -(-height // factor)))
        out.paste(strip, (0, top // factor))
    return out


_heavy_slots = threading.BoundedSemaphore(HEAVY_DECODES)
_heavy_lock = threading.Lock()
_heavy_running = 0


@contextmanager
def _heavy_slot(heavy: bool):
    """For a heavy decode: waits for one of HEAVY_DECODES slots, and afterwards gives the freed memory back."""
    if not heavy:
        yield
        return
    if not _heavy_slots.acquire(timeout=HEAVY_WAIT_S):
        raise ImageError("The server is busy reading other very large photos: try again in a minute, "
                         "or choose a smaller photo.")
    _count_heavy(1)
    try:
        yield
    finally:
        _count_heavy(-1)
        give_memory_back()
        _heavy_slots.release()


def _count_heavy(change: int) -> None:
    global _heavy_running
    with _heavy_lock:
        _heavy_running += change


def heavy_decodes_running() -> int:
    """How many heavy decodes hold a slot now (at most HEAVY_DECODES)."""
    return _heavy_running


def _libc_malloc_trim():
    """glibc's malloc_trim, or None where there is none (macOS, Windows, musl)."""
    if not sys.platform.startswith("linux"):
        return None
    try:
        return ctypes.CDLL(None).malloc_trim
    except (OSError, AttributeError):
        return None


_malloc_trim = _libc_malloc_trim()


def give_memory_back() -> None:
    """Hands freed memory back to the system. glibc keeps it in each thread's arena for reuse, so a server
    that decoded a huge photo in a session's thread would go on holding its size. (Pillow's own block cache
    is off by default: Image.core.get_blocks_max() is 0.)"""
    if _malloc_trim is not None:
        _malloc_trim(0)


def _has_supported_signature(raw: bytes) -> bool:
    Image.init()
    return any(accept(raw[:16]) is True for _, accept in (Image.OPEN[name] for name in FORMATS))


def _check_size(width: int, height: int) -> None:
    # Pillow's own bomb check warns (a process-wide, thread-unsafe switch to turn into an error)
    # and only refuses at twice its limit, so the limit is checked here.
    if width * height > MAX_PIXELS or max(width, height) > MAX_SIDE:
        raise ImageError(_too_large_message(width, height))
    if min(width, height) < MIN_SIDE:
        raise ImageError(f"The image is {width}x{height} pixels: too small to hold a face "
                         f"(at least {MIN_SIDE} pixels a side).")


def _too_large_message(width: int | None = None, height: int | None = None) -> str:
    size = f" ({width}x{height} pixels)" if width else ""
    return (f"The image is too large{size}: fercore accepts up to {MAX_PIXELS // 1_000_000} megapixels "
            f"and {MAX_SIDE:,} pixels a side.")


def _damaged(exc: Exception) -> ImageError:
    # The parser's own words ("image file is truncated (0 bytes not processed)") mean nothing to a learner.
    _log.info("An image could not be decoded: %s: %s", type(exc).__name__, exc)
    return ImageError("The image file is damaged or cut short and cannot be read.")


def _normalise_mode(image: Image.Image, value_range: tuple[float, float] | None) -> Image.Image:
    if image.mode in ("RGBA", "LA", "PA", "RGBa", "La") or (image.mode == "P" and "transparency" in image.info):
        rgba = image.convert("RGBA")
        background = Image.new("RGB", image.size, "white")  # transparent areas read as white paper
        background.paste(rgba, mask=rgba.getchannel("A"))
        return background
    if image.mode.startswith("I") or image.mode == "F":
        return _high_depth_to_gray(image, value_range)
    return image if image.mode in ("RGB", "L") else image.convert("RGB")


def _value_range(image: Image.Image) -> tuple[float, float] | None:
    """For 16- and 32-bit images, the values that become black and white, taken from the whole image before
    it is converted in strips. 16-bit keeps its brightness (Pillow's own convert clips everything above 255
    to white); 32-bit integer or float has no fixed range, so its own range is stretched to 0-255."""
    if image.mode.startswith("I;16"):
        return 0.0, 65535.0
    if image.mode.startswith("I") or image.mode == "F":
        low, high = image.getextrema()
        return float(low), max(float(high), float(low) + 1)
    return None


def _high_depth_to_gray(image: Image.Image, value_range: tuple[float, float]) -> Image.Image:
    low, high = value_range
    values = np.asarray(image, dtype=np.float64)
    return Image.fromarray(np.round((values - low) / (high - low) * 255).astype(np.uint8), "L")


def fit_within(image: Image.Image, side: int = KEPT_SIDE) -> Image.Image:
    """The image shrunk in place (aspect kept) so that neither side is longer than `side`."""
    image.thumbnail((side, side), Image.Resampling.LANCZOS)
    return image


def to_gray(image: Image.Image) -> np.ndarray:
    return np.asarray(image.convert("L"), dtype=np.uint8)


def to_rgb(image: Image.Image) -> np.ndarray:
    return np.asarray(image.convert("RGB"), dtype=np.uint8)


def read_gray(path) -> np.ndarray:
    """A file on disk -> uint8 grayscale array."""
    try:
        raw = Path(path).read_bytes()
    except OSError as exc:
        raise ImageError(f"Cannot read {path}: {exc.strerror}.") from None
    return to_gray(decode_image(raw))


def face_to_input(gray: np.ndarray) -> np.ndarray:
    """A face image of any size -> 48x48: the centred square, resized."""
    h, w = gray.shape[:2]
    side = min(h, w)
    top, left = (h - side) // 2, (w - side) // 2
    square = gray[top : top + side, left : left + side]
    interpolation = cv2.INTER_AREA if side > FACE_SIZE else cv2.INTER_LINEAR
    return cv2.resize(square, (FACE_SIZE, FACE_SIZE), interpolation=interpolation)
