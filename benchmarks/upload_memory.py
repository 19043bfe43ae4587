"""The server's memory when people upload a huge image: the security issue's 7700x7700 PNG (a 192 KB file,
under the 60-megapixel limit), once and by three visitors at once (three threads in one process, as Streamlit
runs sessions), read two ways:
  decode: fercore.images.decode_image as the pages call it (shrunk to KEPT_SIDE), also for the same picture
          with transparency and as a JPEG, and a lossless WebP at its own limit (MAX_WEBP_PIXELS);
  page:   the whole of the "Your photo" page's work, fercore.photo.analyse_photo (decode, then find faces).
Each case runs in a fresh Python process and prints its peak above what it held before (VmHWM: ru_maxrss
would carry this process's own peak across the child's exec) and what it still holds afterwards (VmRSS).

    .venv/bin/python -m benchmarks.upload_memory [--side 7700]
"""
import argparse
import io
import json
import subprocess
import sys
import tempfile
import time
import zlib
from pathlib import Path

from fercore.images import MAX_WEBP_PIXELS

WEBP_SIDE = int(MAX_WEBP_PIXELS ** 0.5)  # larger WebPs are refused before decoding

COLOUR = (200, 120, 80)

CHILD = r"""
import json, sys, threading, time
from fercore.images import KEPT_SIDE, decode_image
from fercore.photo import analyse_photo

def status_mb(field):
    with open("/proc/self/status") as status:
        return next(int(line.split()[1]) // 1024 for line in status if line.startswith(field + ":"))

work = {"decode": lambda raw: decode_image(raw, within=KEPT_SIDE), "page": lambda raw: analyse_photo(raw, None)}
read, raw, visitors = work[sys.argv[1]], open(sys.argv[2], "rb").read(), int(sys.argv[3])
read(open(sys.argv[4], "rb").read())  # warm-up on a small photo: imports, the detector
before_peak, before = status_mb("VmHWM"), status_mb("VmRSS")
started = time.perf_counter()
threads = [threading.Thread(target=read, args=(raw,)) for _ in range(visitors)]
for thread in threads:
    thread.start()
for thread in threads:
    thread.join()
print(json.dumps({"before": before, "peak": status_mb("VmHWM") - max(before_peak, before),
                  "after": status_mb("VmRSS") - before, "seconds": time.perf_counter() - started}))
"""


def solid_png(width: int, height: int, colour=COLOUR) -> bytes:
    """A one-colour PNG (RGB, or RGBA for a 4-tuple) written a row at a time: the file is small, its pixels not."""
    row = b"\x00" + bytes(colour) * width  # filter byte 0, then the pixels
    packer, body = zlib.compressobj(9), bytearray()
    for _ in range(height):
        body += packer.compress(row)
    body += packer.flush()
    header = width.to_bytes(4, "big") + height.to_bytes(4, "big") + bytes([8, 6 if len(colour) == 4 else 2, 0, 0, 0])
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", bytes(body)) + chunk(b"IEND", b"")


def chunk(kind: bytes, data: bytes) -> bytes:
    return len(data).to_bytes(4, "big") + kind + data + zlib.crc32(kind + data).to_bytes(4, "big")


def encoded(side: int, fmt: str, **options) -> bytes:
    from PIL import Image

    buffer = io.BytesIO()
    Image.new("RGB", (side, side), COLOUR).save(buffer, fmt, **options)
    return buffer.getvalue()


def cases(side: int) -> list[tuple[str, str, bytes, int]]:
    """(work, file's name, its bytes, visitors at once)."""
    png = solid_png(side, side)
    return [("decode", "PNG", png, 1), ("decode", "PNG", png, 3),
            ("decode", "PNG with alpha", solid_png(side, side, COLOUR + (128,)), 1),
            ("decode", "WebP at its limit", encoded(WEBP_SIDE, "WEBP", lossless=True), 1),
            ("decode", "JPEG", encoded(side, "JPEG", quality=90), 1),
            ("page", "PNG", png, 1), ("page", "PNG", png, 3)]


def measure(work: str, raw: bytes, visitors: int, small: Path) -> dict:
    path = small.with_name("upload")
    path.write_bytes(raw)
    done = subprocess.run([sys.executable, "-c", CHILD, work, str(path), str(visitors), str(small)],
                          cwd=Path.cwd(), capture_output=True, text=True)
    if done.returncode:
        raise SystemExit(done.stderr)
    return json.loads(done.stdout.strip().splitlines()[-1])


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--side", type=int, default=7700)
    args = parser.parse_args()
    started = time.perf_counter()
    with tempfile.TemporaryDirectory() as folder:
        small = Path(folder) / "small.png"
        small.write_bytes(solid_png(640, 480))
        print(f"A one-colour {args.side}x{args.side} image, each case in a fresh process; peak: VmHWM above what "
              f"the process held before; after: VmRSS once the uploads are done")
        for work, name, raw, visitors in cases(args.side):
            m = measure(work, raw, visitors, small)
            print(f"    {work:<6} {name:<17} ({len(raw) // 1024:>4} KB), {visitors} at once: held {m['before']:>3} MB "
                  f"before, peak {m['peak']:+5d} MB, after {m['after']:+4d} MB, {m['seconds']:.1f} s")
    print(f"({time.perf_counter() - started:.0f} s in all)")


if __name__ == "__main__":
    main()
