"""Images people upload: every common format and mode decodes upright; bad files get a clear message."""
import io
import struct
import zlib

import numpy as np
import pytest
from PIL import Image

from fercore.errors import ImageError
from fercore.images import (KEPT_SIDE, MIN_SIDE, decode_image, face_to_input, fit_within, read_gray, to_gray,
                            to_rgb)


def encode(image: Image.Image, fmt: str, **options) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, fmt, **options)
    return buffer.getvalue()


def gradient_rgb(width=64, height=48) -> Image.Image:
    x = np.linspace(0, 255, width, dtype=np.uint8)[None, :].repeat(height, 0)
    y = np.linspace(0, 255, height, dtype=np.uint8)[:, None].repeat(width, 1)
    return Image.fromarray(np.dstack([x, y, 255 - x]), "RGB")


def png_claiming_size(width: int, height: int) -> bytes:
    """A valid small PNG whose header (with a correct checksum) claims another size."""
    raw = bytearray(encode(Image.new("L", (20, 20)), "PNG"))
    header = b"IHDR" + struct.pack(">II", width, height) + bytes(raw[24:29])
    raw[12:33] = header + struct.pack(">I", zlib.crc32(header))
    return bytes(raw)


@pytest.mark.parametrize("fmt, options", [("PNG", {}), ("BMP", {}), ("TIFF", {}), ("TIFF", {"compression": "tiff_lzw"}),
                                          ("WEBP", {"lossless": True})])
def test_lossless_formats_decode_to_the_same_pixels(fmt, options):
    original = gradient_rgb()
    decoded = decode_image(encode(original, fmt, **options))
    np.testing.assert_array_equal(to_rgb(decoded), np.asarray(original))


@pytest.mark.parametrize("fmt", ["JPEG", "WEBP"])
def test_lossy_formats_decode_close_to_the_original(fmt):
    original = gradient_rgb()
    decoded = to_rgb(decode_image(encode(original, fmt, quality=95)))
    assert decoded.shape == (48, 64, 3)
    assert np.abs(decoded.astype(int) - np.asarray(original)).mean() < 4


def test_transparent_areas_become_white_and_opaque_areas_keep_their_colour():
    rgba = np.zeros((40, 40, 4), np.uint8)
    rgba[:, :20] = (200, 30, 30, 255)  # opaque red left half, fully transparent right half
    for image in (Image.fromarray(rgba, "RGBA"), Image.fromarray(rgba, "RGBA").convert("LA")):
        decoded = to_rgb(decode_image(encode(image, "PNG")))
        assert (decoded[:, 25:] == 255).all()
        assert decoded[:, :15].mean() < 200


@pytest.mark.parametrize("transparent", [False, True])
def test_palette_images_decode_with_and_without_transparency(transparent):
    palette = gradient_rgb().convert("P", palette=Image.Palette.ADAPTIVE, colors=16)
    if transparent:
        palette.info["transparency"] = palette.getpixel((0, 0))
    decoded = to_rgb(decode_image(encode(palette, "PNG")))
    assert decoded.shape == (48, 64, 3)
    if transparent:
        assert (decoded[0, 0] == 255).all()  # the transparent colour reads as white paper
    else:
        assert np.abs(decoded.astype(int) - np.asarray(gradient_rgb())).mean() < 25


@pytest.mark.parametrize("fmt", ["JPEG", "TIFF"])
def test_cmyk_images_come_out_rgb(fmt):
    cmyk = Image.new("CMYK", (32, 32), (0, 255, 255, 0))  # pure red in print colours
    decoded = to_rgb(decode_image(encode(cmyk, fmt)))
    red, green, blue = decoded.reshape(-1, 3).mean(axis=0)
    assert red > 200 and green < 60 and blue < 60


@pytest.mark.parametrize("fmt", ["PNG", "TIFF"])
def test_16_bit_images_keep_their_brightness(fmt):
    values = np.full((32, 32), 32768, np.uint16)  # mid-gray in 16 bits
    values[:, :16] = 65535
    decoded = decode_image(encode(Image.fromarray(values), fmt))
    gray = to_gray(decoded)
    assert abs(int(gray[0, 20]) - 128) <= 1 and gray[0, 0] == 255  # Pillow's own convert gives 255 for both


def test_grayscale_and_bilevel_images_decode():
    gray = np.asarray(gradient_rgb().convert("L"))
    np.testing.assert_array_equal(to_gray(decode_image(encode(Image.fromarray(gray), "PNG"))), gray)
    bilevel = Image.fromarray(gray > 128)
    assert set(np.unique(to_gray(decode_image(encode(bilevel, "PNG"))))) == {0, 255}


@pytest.mark.parametrize("orientation, expected_corner", [(1, (0, 0)), (3, (-1, -1)), (6, (0, -1)), (8, (-1, 0))])
def test_exif_orientation_turns_the_photo_upright(orientation, expected_corner):
    stored = np.zeros((40, 60), np.uint8)  # landscape as stored, bright block in its top-left corner
    stored[:10, :10] = 255
    exif = Image.Exif()
    exif[0x0112] = orientation
    upright = to_gray(decode_image(encode(Image.fromarray(stored), "JPEG", exif=exif, quality=95)))
    assert upright.shape == ((40, 60) if orientation in (1, 3) else (60, 40))
    row, col = expected_corner
    rows = slice(0, 8) if row == 0 else slice(-8, None)
    cols = slice(0, 8) if col == 0 else slice(-8, None)
    assert upright[rows, cols].mean() > 200 and upright.mean() < 60


def test_empty_file_is_reported():
    with pytest.raises(ImageError, match="empty"):
        decode_image(b"")


@pytest.mark.parametrize("raw", [b"this is a text file, not a photo\n" * 20, b"%PDF-1.7\n" + bytes(500),
                                 encode(Image.new("RGB", (40, 40)), "GIF"), encode(Image.new("RGB", (40, 40)), "ICO")])
def test_non_images_and_unsupported_formats_are_reported(raw):
    with pytest.raises(ImageError, match="not an image fercore can read .JPEG, PNG, WebP, BMP or TIFF"):
        decode_image(raw)


@pytest.mark.parametrize("fmt", ["JPEG", "PNG", "WEBP"])
def test_truncated_files_are_reported_as_damaged(fmt):
    noisy = Image.fromarray(np.random.default_rng(0).integers(0, 255, (200, 200, 3), dtype=np.uint8))
    raw = encode(noisy, fmt)
    with pytest.raises(ImageError, match="damaged or cut short"):
        decode_image(raw[: len(raw) // 2])


@pytest.mark.parametrize("damage", ["png header", "jpeg body"])
def test_corrupt_files_of_a_known_format_are_reported_as_damaged(damage):
    if damage == "png header":
        raw = bytearray(encode(gradient_rgb(), "PNG"))
        raw[16:24] = b"\xff" * 8  # the size, no longer matching the header's checksum
    else:
        raw = b"\xff\xd8\xff\xe0" + bytes(np.random.default_rng(1).integers(0, 255, 2000, dtype=np.uint8))
    with pytest.raises(ImageError, match="damaged or cut short"):
        decode_image(bytes(raw))


@pytest.mark.parametrize("width, height", [(8000, 8000), (20000, 20000), (100_000, 100_000), (40_000, 100)])
def test_decompression_bombs_and_absurd_sizes_are_refused_before_decoding(width, height):
    with pytest.raises(ImageError, match="too large.*60 megapixels"):
        decode_image(png_claiming_size(width, height))


def test_images_too_small_to_hold_a_face_are_refused():
    with pytest.raises(ImageError, match="5x5 pixels: too small"):
        decode_image(encode(Image.new("L", (5, 5)), "PNG"))


def test_read_gray_reads_a_file_and_reports_a_missing_one(tmp_path):
    path = tmp_path / "face.png"
    path.write_bytes(encode(gradient_rgb(), "PNG"))
    assert read_gray(path).shape == (48, 64)
    with pytest.raises(ImageError, match="Cannot read .*absent.png"):
        read_gray(tmp_path / "absent.png")


def test_face_to_input_takes_the_centred_square():
    wide = np.zeros((100, 300), np.uint8)
    wide[:, 100:200] = 255  # the centred square is all white
    face = face_to_input(wide)
    assert face.shape == (48, 48) and face.dtype == np.uint8 and face.min() == 255


def test_a_file_over_the_photo_limit_is_refused_before_decoding():
    with pytest.raises(ImageError, match="photos up to 20 MB"):
        decode_image(b"\xff\xd8\xff" + bytes(21 * 1024 * 1024))


def busy_rgb(width=360, height=240) -> Image.Image:
    """Smooth shapes with sharp edges: what shrinking changes, and what it must not."""
    rgb = np.asarray(gradient_rgb(width, height)).copy()
    rgb[height // 4 : height // 2, width // 5 : width // 2] = (250, 250, 30)
    rgb[height // 2 :, width // 2 : width // 2 + 30] = (20, 20, 200)
    return Image.fromarray(rgb, "RGB")


def as_mode(image: Image.Image, mode: str) -> Image.Image:
    if mode == "RGBA":  # the right third transparent: it reads as white paper
        rgba = image.convert("RGBA")
        rgba.putalpha(Image.fromarray(np.where(np.arange(image.width) < image.width * 2 // 3, 255, 0)
                                      .astype(np.uint8)[None, :].repeat(image.height, 0)))
        return rgba
    if mode == "I;16":
        return Image.fromarray(np.asarray(image.convert("L"), np.uint16) * 257)
    if mode == "F":
        return Image.fromarray(np.asarray(image.convert("L"), np.float32) / 10)
    if mode == "P":
        palette = image.convert("P", palette=Image.Palette.ADAPTIVE, colors=16)
        palette.info["transparency"] = palette.getpixel((0, 0))
        return palette
    if mode == "1":  # thresholded: dithering's pixel noise would say nothing about shrinking
        return image.convert("L").convert("1", dither=Image.Dither.NONE)
    return image.convert(mode)


@pytest.mark.parametrize("mode, fmt", [("RGB", "PNG"), ("RGBA", "PNG"), ("P", "PNG"), ("L", "PNG"), ("1", "PNG"),
                                       ("I;16", "PNG"), ("F", "TIFF"), ("CMYK", "TIFF"), ("RGB", "WEBP"),
                                       ("RGB", "JPEG"), ("L", "JPEG"), ("CMYK", "JPEG")])
def test_reading_within_a_side_matches_the_whole_image_read_then_shrunk(mode, fmt):
    raw = encode(as_mode(busy_rgb(), mode), fmt, **({"quality": 95} if fmt == "JPEG" else {}))
    for within in (100, 150):  # reduced 3 times then resized, and 2 times (or a 1/2-scale JPEG) then resized
        reduced = decode_image(raw, within=within)
        whole = fit_within(decode_image(raw), within)
        assert reduced.size == whole.size and max(reduced.size) == within and reduced.mode == whole.mode
        difference = np.abs(np.asarray(reduced, float) - np.asarray(whole, float))
        assert difference.mean() < 1.5 and np.percentile(difference, 99) < 24  # edges move by under a pixel


@pytest.mark.parametrize("fmt", ["JPEG", "PNG"])
def test_reading_within_a_side_gives_the_size_the_whole_image_shrunk_has(fmt):
    rng = np.random.default_rng(5)
    for _ in range(60):
        width, height = (int(v) for v in rng.integers(MIN_SIDE, 1000, 2))
        within = int(rng.integers(MIN_SIDE, 400))
        raw = encode(Image.new("RGB", (width, height), (90, 140, 200)), fmt)
        assert decode_image(raw, within=within).size == fit_within(decode_image(raw), within).size, (width, height)


def test_reading_within_a_side_leaves_smaller_images_as_they_are():
    raw = encode(busy_rgb(), "PNG")
    np.testing.assert_array_equal(to_rgb(decode_image(raw, within=KEPT_SIDE)), np.asarray(busy_rgb()))


@pytest.mark.parametrize("fmt", ["JPEG", "PNG"])
@pytest.mark.parametrize("orientation, expected_corner", [(1, (0, 0)), (3, (-1, -1)), (6, (0, -1)), (8, (-1, 0))])
def test_a_reduced_reading_is_turned_upright_too(fmt, orientation, expected_corner):
    stored = np.zeros((400, 600), np.uint8)  # landscape as stored, bright block in its top-left corner
    stored[:100, :100] = 255
    exif = Image.Exif()
    exif[0x0112] = orientation
    upright = to_gray(decode_image(encode(Image.fromarray(stored), fmt, exif=exif), within=60))
    assert upright.shape == ((40, 60) if orientation in (1, 3) else (60, 40))
    rows = slice(0, 8) if expected_corner[0] == 0 else slice(-8, None)
    cols = slice(0, 8) if expected_corner[1] == 0 else slice(-8, None)
    assert upright[rows, cols].mean() > 200 and upright.mean() < 60
