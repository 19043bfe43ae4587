"""Hundreds of malformed uploads: each one gets a clear message, never a traceback.

The cases are generated from a fixed seed: random bytes, real files of every accepted format cut
short or with bytes overwritten, headers claiming absurd sizes, images too small to hold a face, and
valid images in unusual modes (which may be read, or refused with a message).
"""
import struct

import numpy as np
import pytest
from PIL import Image
from streamlit.testing.v1 import AppTest
from test_images import encode, png_claiming_size
from test_photo import predictor  # noqa: F401 (a fixture)
from test_upload_page import tiny_model_path  # noqa: F401 (a fixture)

from fercore.errors import ImageError
from fercore.photo import analyse_photo

RNG_SEED = 2026
FORMATS = ("JPEG", "PNG", "WEBP", "BMP", "TIFF")
ODD_MODES = ["1", "L", "P", "LA", "PA", "RGBA", "CMYK", "I;16", "I", "F", "YCbCr", "HSV", "LAB", "RGBX"]


def photo(rng, width=120, height=90) -> Image.Image:
    return Image.fromarray(rng.integers(0, 256, (height, width, 3), dtype=np.uint8), "RGB")


def bmp_claiming(width: int, height: int) -> bytes:
    raw = bytearray(encode(Image.new("RGB", (20, 20)), "BMP"))
    raw[18:26] = struct.pack("<ii", width, height)
    return bytes(raw)


def must_be_refused() -> list[tuple[str, bytes]]:
    rng = np.random.default_rng(RNG_SEED)
    cases = [("empty", b""), ("spaces", b" " * 100)]
    cases += [(f"random-{i}", rng.bytes(int(rng.integers(1, 20_000)))) for i in range(80)]
    for fmt in FORMATS:
        whole = encode(photo(rng), fmt)
        cases += [(f"{fmt}-cut-at-{cut}", whole[:cut]) for cut in rng.integers(1, len(whole) * 0.8, 30)]
    for side in rng.integers(30_001, 2_000_000, 20):
        cases += [(f"png-claims-{side}", png_claiming_size(int(side), int(side))),
                  (f"bmp-claims-{side}", bmp_claiming(int(side), 100))]
    cases += [(f"png-claims-{w}x{h}", png_claiming_size(w, h)) for w, h in [(8000, 8000), (60_000, 2), (0, 0), (1, 1)]]
    cases += [(f"{fmt}-{w}x{h}", encode(photo(rng, w, h), fmt)) for fmt in ("PNG", "JPEG", "BMP")
              for w, h in [(1, 1), (8, 8), (15, 200)]]
    return cases


def either_read_or_refused() -> list[tuple[str, bytes]]:
    rng = np.random.default_rng(RNG_SEED + 1)
    cases = []
    for fmt in FORMATS:
        whole = encode(photo(rng), fmt)
        for i in range(20):
            damaged = bytearray(whole)
            for at in rng.integers(0, len(whole), int(rng.integers(1, 12))):
                damaged[at] = int(rng.integers(0, 256))
            cases.append((f"{fmt}-overwritten-{i}", bytes(damaged)))
    for mode in ODD_MODES:
        image = photo(rng).convert(mode) if mode not in ("I;16", "I", "F") else Image.fromarray(
            rng.integers(0, 60_000, (90, 120)).astype({"I;16": np.uint16, "I": np.int32, "F": np.float32}[mode]))
        for fmt in ("PNG", "TIFF", "JPEG", "WEBP", "BMP"):
            try:
                cases.append((f"{mode}-{fmt}", encode(image, fmt)))
            except (OSError, ValueError, KeyError):
                pass  # Pillow cannot write this mode in this format
    return cases


REFUSED, EITHER = must_be_refused(), either_read_or_refused()


def assert_clear(message: str) -> None:
    assert message and len(message) < 400 and "Traceback" not in message
    assert message[0].isupper() and message.endswith((".", ")")), message


def test_there_are_hundreds_of_cases():
    assert len(REFUSED) + len(EITHER) >= 400


@pytest.mark.filterwarnings("ignore::PIL.Image.DecompressionBombWarning")  # refused all the same
@pytest.mark.parametrize("name, raw", REFUSED, ids=[name for name, _ in REFUSED])
def test_malformed_uploads_are_refused_with_a_clear_message(predictor, name, raw):  # noqa: F811
    with pytest.raises(ImageError) as refused:
        analyse_photo(raw, predictor)
    assert_clear(str(refused.value))


@pytest.mark.parametrize("name, raw", EITHER, ids=[name for name, _ in EITHER])
def test_damaged_or_unusual_images_are_read_or_refused_clearly(predictor, name, raw):  # noqa: F811
    try:
        analysis = analyse_photo(raw, predictor)
    except ImageError as exc:
        assert_clear(str(exc))
        return
    assert analysis.image.ndim == 3 and analysis.image.dtype == np.uint8


def test_through_the_page_every_sampled_bad_file_shows_a_message(tiny_model_path, monkeypatch):  # noqa: F811
    monkeypatch.setenv("FER_MODEL", str(tiny_model_path))
    app = AppTest.from_file("../pages/upload.py", default_timeout=120).run()
    for name, raw in REFUSED[::12]:
        app.file_uploader[0].set_value((f"{name}.jpg", raw, "image/jpeg"))
        app.run()
        assert not app.exception, name
        assert app.error and "can't be used" in app.error[0].value, name
