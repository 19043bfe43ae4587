"""Decoding images people bring (any common format, size or mode) into upright arrays, safely."""
from __future__ import annotations

import io
import logging
from pathlib import Path

import cv2
import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

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


def decode_image(raw: bytes) -> Image.Image:
    """Bytes -> an upright RGB or L PIL image. Raises ImageError with a message for a person."""
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
    try:
        image.load()  # Pillow's LOAD_TRUNCATED_IMAGES stays False, so a cut-short file raises here
        ImageOps.exif_transpose(image, in_place=True)  # phones store portrait shots sideways plus a tag
        return _normalise_mode(image)
    except Exception as exc:
        raise _damaged(exc) from None


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


def _normalise_mode(image: Image.Image) -> Image.Image:
    if image.mode in ("RGBA", "LA", "PA", "RGBa", "La") or (image.mode == "P" and "transparency" in image.info):
        rgba = image.convert("RGBA")
        background = Image.new("RGB", image.size, "white")  # transparent areas read as white paper
        background.paste(rgba, mask=rgba.getchannel("A"))
        return background
    if image.mode.startswith("I") or image.mode == "F":
        return _high_depth_to_gray(image)
    return image if image.mode in ("RGB", "L") else image.convert("RGB")


def _high_depth_to_gray(image: Image.Image) -> Image.Image:
    """16-bit keeps its brightness (Pillow's own convert clips everything above 255 to white);
    32-bit integer or float has no fixed range, so its own range is stretched to 0-255."""
    values = np.asarray(image, dtype=np.float64)
    if image.mode.startswith("I;16"):
        low, high = 0.0, 65535.0
    else:
        low, high = values.min(), max(values.max(), values.min() + 1)
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
