"""A huge upload (the security issue's 7700x7700 PNG: a 192 KB file under the 60-megapixel limit) costs the
server one full-size decode at most, one such decode at a time, and its memory is given back afterwards.

Memory is measured in a fresh Python process per case, from /proc/self/status: VmHWM (the peak) rather than
getrusage's ru_maxrss, which a child inherits across exec from this (large) pytest process, and VmRSS
(what is still held). Linux only.
"""
import io
import json
import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from test_faces import findable, iou, noisy_canvas, paste, public_faces

from fercore.faces import find_faces
from fercore.images import (HEAVY_DECODES, HEAVY_PIXELS, KEPT_SIDE, MAX_WEBP_PIXELS, ImageError, decode_image,
                            fit_within, heavy_decodes_running, to_gray)

pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc/self/status")

PROJECT = Path(__file__).resolve().parent.parent
SIDE = 7700
FULL_SIZE_MB = SIDE * SIDE * 4 / 2**20  # Pillow holds RGB and RGBA at 4 bytes a pixel: 226 MB
SLACK = 1.25  # beside the one full-size decode, at most a quarter of it more
RESULT_MB = KEPT_SIDE * KEPT_SIDE * 4 / 2**20  # one shrunk result: 16 MB

CHILD = r"""
import json, sys, threading
from fercore.images import KEPT_SIDE, decode_image
from fercore.photo import analyse_photo

def status_mb(field):
    with open("/proc/self/status") as status:
        return next(int(line.split()[1]) / 1024 for line in status if line.startswith(field + ":"))

work = {"decode": lambda raw: decode_image(raw, within=KEPT_SIDE), "page": lambda raw: analyse_photo(raw, None)}
read, raw, visitors = work[sys.argv[1]], open(sys.argv[2], "rb").read(), int(sys.argv[3])
read(open(sys.argv[4], "rb").read())  # warm-up on a small photo: imports, the face detector
before = max(status_mb("VmHWM"), status_mb("VmRSS"))
threads = [threading.Thread(target=read, args=(raw,)) for _ in range(visitors)]
for thread in threads:
    thread.start()
for thread in threads:
    thread.join()
print(json.dumps({"peak": status_mb("VmHWM") - before, "after": status_mb("VmRSS") - before}))
"""

MAKE = "import sys; from PIL import Image; Image.new(sys.argv[2], ({side},) * 2, {colour}).save(sys.argv[1], {options})"
PICTURES = [("rgb.png", "RGB", (200, 120, 80), ""), ("rgba.png", "RGBA", (200, 120, 80, 128), ""),
            ("rgb.jpg", "RGB", (200, 120, 80), "quality=90")]  # name, mode, colour, saving options


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    """The huge pictures, each made in a process of its own (this one would keep their memory), and a small one."""
    folder = tmp_path_factory.mktemp("huge")
    made = {}
    for name, mode, colour, options in PICTURES:
        made[name] = folder / name
        code = MAKE.format(side=SIDE, colour=colour, options=options)
        subprocess.run([sys.executable, "-c", code, made[name], mode], check=True)
    made["small"] = folder / "small.png"
    Image.new("RGB", (640, 480), (200, 120, 80)).save(made["small"])
    return made


def measure(files, name: str, work: str = "decode", visitors: int = 1) -> dict:
    done = subprocess.run([sys.executable, "-c", CHILD, work, files[name], str(visitors), files["small"]],
                          cwd=PROJECT, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout.strip().splitlines()[-1])


@pytest.mark.parametrize("name", ["rgb.png", "rgba.png"])
def test_a_huge_png_costs_one_full_size_decode_and_its_memory_is_given_back(files, name):
    used = measure(files, name)
    assert used["peak"] < SLACK * FULL_SIZE_MB, used  # it was 302 MB (RGB), 735 MB (RGBA)
    assert used["after"] < 24, used


def test_a_huge_jpeg_is_decoded_reduced(files):
    used = measure(files, "rgb.jpg")
    assert used["peak"] < FULL_SIZE_MB / 2, used  # it was 303 MB: decoded whole, then shrunk


def test_three_huge_uploads_at_once_cost_one_full_size_decode(files):
    used = measure(files, "rgb.png", visitors=3)
    assert used["peak"] < SLACK * FULL_SIZE_MB, used  # it was 896 MB: three decodes side by side
    assert used["after"] < 3 * RESULT_MB, used  # at most the results, let go after the last decode's trim


def test_the_photo_page_gives_back_its_memory_after_three_huge_uploads(files):
    """Three visitors' threads on the "Your photo" page's work: the face detector's buffers for a 2048-px
    photo (about 250 MB a thread) are handed back when the threads end, not kept by glibc."""
    assert measure(files, "rgb.png", "page", visitors=3)["after"] < 24  # it was 34 to 111 MB


def test_a_webp_too_large_to_decode_reduced_is_refused_before_decoding_and_a_phones_passes():
    def webp(width, height):
        buffer = io.BytesIO()
        Image.new("RGB", (width, height), (90, 60, 30)).save(buffer, "WEBP", lossless=True)
        return buffer.getvalue()

    side = int(np.sqrt(MAX_WEBP_PIXELS)) + 1
    with pytest.raises(ImageError, match="This WebP image is too large .* Save it as JPEG or PNG"):
        decode_image(webp(side, side), within=KEPT_SIDE)
    assert decode_image(webp(4000, 3000), within=KEPT_SIDE).width == KEPT_SIDE  # a phone's 12 megapixels


def test_only_so_many_heavy_decodes_run_at_once():
    side = int(np.ceil(np.sqrt(HEAVY_PIXELS))) + 1
    buffer = io.BytesIO()
    Image.new("L", (side, side), 90).save(buffer, "PNG")
    raw, running, results = buffer.getvalue(), [], []
    readers = [threading.Thread(target=lambda: results.append(decode_image(raw, within=KEPT_SIDE)))
               for _ in range(HEAVY_DECODES + 2)]
    for reader in readers:
        reader.start()
    while any(reader.is_alive() for reader in readers):
        running.append(heavy_decodes_running())
        time.sleep(0.001)
    assert max(running) == HEAVY_DECODES and heavy_decodes_running() == 0
    assert len(results) == len(readers) and all(r.size == (KEPT_SIDE, KEPT_SIDE) for r in results)


@pytest.mark.parametrize("fmt", ["JPEG", "PNG"])
def test_faces_in_a_large_photo_are_found_as_when_it_was_decoded_whole(real_data_path, fmt):
    canvas = noisy_canvas(4800, 3600)  # JPEG: decoded at 1/2 scale; PNG: reduced 2 times after decoding
    places = [(600, 600, 300), (2000, 1500, 420), (3600, 2400, 360)]  # x, y, side
    truth = [paste(canvas, face, *place) for face, place in zip(findable(public_faces(real_data_path, 30), 3), places)]
    buffer = io.BytesIO()
    Image.fromarray(canvas).save(buffer, fmt, **({"quality": 92} if fmt == "JPEG" else {}))
    reduced = find_faces(to_gray(decode_image(buffer.getvalue(), within=KEPT_SIDE)))[0]
    whole = find_faces(to_gray(fit_within(decode_image(buffer.getvalue()))))[0]
    scale = KEPT_SIDE / 4800
    assert len(reduced) == len(whole) == 3
    for found, before in zip(reduced, whole):
        assert iou(found.box, before.box) > 0.8
        assert max(iou(found.box, tuple(round(v * scale) for v in square)) for square in truth) > 0.3
