"""The Live mirror's targets (issue 42), with its video read in the browser: `streamlit run app.py` on this
machine, headless Debian Chromium with a fake camera filming real FER2013 faces at 640x480.

(a) one learner (a face moving as people do, the clip the server stream was measured on): readings per
    second, and seconds from Start to the first reading, on a first visit and with the reader's files
    already in the browser's cache;
(b) ten learners at once (ten pages streaming for --seconds): the app server's CPU time while they stream (its
    process and its children), and another learner's first quiz face, the server's part (from the nickname's
    Enter to the server's last message before the face shows), with the ten cameras stopped and streaming,
    in turn. The ten pages' Chromium runs at the lowest CPU priority: it stands for the learners' own
    devices, which read their videos with their own processors, not the server's;
(c) a face held still: the reader's reading against `python -m fercore predict` on the very frame it read.

The server stream this replaced (WebRTC to the server, read there) measured, with benchmarks/mirror.py at
commit e339dd9: 26 readings/s for one learner, 12/s each for five, most of both cores for five.

    .venv/bin/python -m benchmarks.mirror [--data PATH] [--seconds 60] [--quiz-runs 8] [--parts abc]
"""
import argparse
import base64
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from contextlib import contextmanager
from pathlib import Path

import cv2
import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))  # the fake camera the tests use
from benchmarks import quiz_page  # noqa: E402
from benchmarks.timing import cpu_description  # noqa: E402
from camera import fake_camera_args, framed_faces, moving_face, write_y4m  # noqa: E402
from fercore.data import resolve_data_path  # noqa: E402
from fercore.labels import EMOTIONS  # noqa: E402
from fercore.predict import Predictor  # noqa: E402
from fercore.registry import SHIPPED_MODEL  # noqa: E402
from tests.browser import CHROMIUM, CHROMIUM_ARGS, PROJECT_ROOT, app_server  # noqa: E402

TARGETS = {"readings": 15, "first_reading_s": 3.0, "server_cpu_percent": 5.0, "quiz_ratio": 1.2,
           "same_top": 10, "gap": 0.03}
LEARNERS = 10
READERS = "() => [...(window.fercoreReaders || [])]"
READINGS = f"() => ({READERS})().reduce((n, r) => n + r.readings, 0)"


def verdict(met: bool) -> str:
    return "met" if met else "NOT met"


@contextmanager
def chromium(playwright, video: Path, lowest_priority: bool = False):
    """Headless Chromium whose camera films `video`; at the lowest CPU priority when it stands for learners'
    own devices."""
    executable = CHROMIUM
    if lowest_priority:
        wrapper = video.with_suffix(".nice.sh")
        # Playwright starts it in a session of its own, whose autogroup would share the CPU with the server's
        # as an equal whatever its processes' nice: the group is set to the lowest priority too
        wrapper.write_text(f'#!/bin/sh\necho 19 > /proc/self/autogroup 2>/dev/null\nexec nice -n 19 {CHROMIUM} "$@"\n')
        wrapper.chmod(0o755)
        executable = str(wrapper)
    browser = playwright.chromium.launch(executable_path=executable, args=CHROMIUM_ARGS + fake_camera_args(video))
    try:
        yield browser
    finally:
        browser.close()


def start_reading(page, url: str) -> float:
    """Open the Live mirror, press Start; seconds from the press to the first reading."""
    page.goto(f"{url}/mirror")
    start = page.get_by_role("button", name="Start the camera")
    start.wait_for(timeout=120_000)
    pressed = time.perf_counter()
    start.click()
    page.wait_for_function(f"() => ({READINGS})() > 0", timeout=120_000, polling=20)
    return time.perf_counter() - pressed


def one_learner(playwright, url: str, video: Path, seconds: float) -> bool:
    with chromium(playwright, video) as browser:
        context = browser.new_context(viewport={"width": 1280, "height": 900})
        page = context.new_page()
        first_visit = start_reading(page, url)
        cached = start_reading(page, url)  # the same browser again: its cache holds the files
        spent = f"() => {{ const r = ({READERS})()[0]; return [r.readings, r.spent.finding, r.spent.reading]; }}"
        before, started = page.evaluate(spent), time.perf_counter()
        time.sleep(seconds)
        after = page.evaluate(spent)
        rate = (after[0] - before[0]) / (time.perf_counter() - started)
        finding, reading = ((a - b) / (after[0] - before[0]) for a, b in zip(after[1:], before[1:]))
        context.close()
    met = rate >= TARGETS["readings"] and cached <= TARGETS["first_reading_s"]
    print(f"(a) one learner: {rate:.1f} readings/s over {seconds:.0f} s (target >= {TARGETS['readings']}); first "
          f"reading {cached:.2f} s after Start with the files cached (target <= {TARGETS['first_reading_s']:.0f} s), "
          f"{first_visit:.2f} s on a first visit: {verdict(met)}; a reading's work: finding the face {finding:.0f} ms, "
          f"reading it {reading:.0f} ms", flush=True)
    return met


def server_pids(url: str) -> list[int]:
    port = url.rsplit(":", 1)[1]
    server = next(int(pid) for pid in os.listdir("/proc") if pid.isdigit() and
                  f"--server.port\0{port}\0".encode() in Path(f"/proc/{pid}/cmdline").read_bytes())
    children = [int(pid) for pid in os.listdir("/proc") if pid.isdigit() and
                Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[1] == str(server)]
    return [server, *children]


def cpu_seconds(pids: list[int]) -> float:
    total = 0.0
    for pid in pids:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        total += (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")  # utime, stime
    return total


def first_quiz_face(browser, url: str, nickname: str) -> float:
    """The server's part of a new learner's first quiz face: from the nickname's Enter to its last message."""
    page = browser.new_page()
    messages: list[float] = []
    page.on("websocket", lambda socket: socket.on("framereceived", lambda _: messages.append(time.perf_counter())))
    page.goto(f"{url}/quiz")
    box = page.get_by_role("textbox", name="Your nickname")
    box.fill(nickname)
    entered = time.perf_counter()
    box.press("Enter")
    page.locator(quiz_page.choices()).first.wait_for(timeout=120_000)
    shown = time.perf_counter()
    page.close()
    return max((t for t in messages if entered < t < shown), default=float("nan")) - entered


def streaming(pages, on: bool) -> None:
    """The ten learners' cameras stopped, or started again and reading."""
    if not on:
        for page in pages:
            page.evaluate(f"() => ({READERS})().forEach(r => r.stop())")
        return
    for page in pages:
        before = page.evaluate(READINGS)
        page.evaluate(f"async () => {{ for (const r of ({READERS})()) await r.start(); }}")
        page.wait_for_function(f"() => ({READINGS})() > {before}", timeout=120_000, polling=50)


def quiz_faces_idle_and_busy(quizzer, url: str, pages, runs: int) -> tuple[list[float], list[float]]:
    """First quiz faces with the ten learners' cameras stopped and streaming, in turn (ABBA order), so that
    whatever drifts over the runs (the store, the caches) falls on both alike."""
    times: dict[bool, list[float]] = {False: [], True: []}
    for n in range(runs):
        for busy in ((False, True) if n % 2 == 0 else (True, False)):
            streaming(pages, busy)
            time.sleep(2)  # the start's own work settled
            times[busy].append(first_quiz_face(quizzer, url, f"{'busy' if busy else 'idle'}{n}"))
    return times[False], times[True]


def ten_learners(playwright, url: str, video: Path, seconds: float, quiz_runs: int) -> bool:
    quizzer = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
    first_quiz_face(quizzer, url, "warm")  # the quiz's faces are read once per model, on first use
    with chromium(playwright, video, lowest_priority=True) as learners:
        pages = [learners.new_page(viewport={"width": 800, "height": 700}) for _ in range(LEARNERS)]
        for page in pages:
            start_reading(page, url)
        pids = server_pids(url)
        before_cpu, before_readings = cpu_seconds(pids), sum(p.evaluate(READINGS) for p in pages)
        started = time.perf_counter()
        time.sleep(seconds)
        used = cpu_seconds(pids) - before_cpu
        elapsed = time.perf_counter() - started
        readings = sum(p.evaluate(READINGS) for p in pages) - before_readings
        idle, busy = quiz_faces_idle_and_busy(quizzer, url, pages, quiz_runs)
    quizzer.close()
    percent = 100 * used / elapsed
    ratio = statistics.median(busy) / statistics.median(idle)
    met = percent <= TARGETS["server_cpu_percent"] and ratio <= TARGETS["quiz_ratio"]
    print(f"(b) {LEARNERS} learners streaming for {elapsed:.0f} s: the app server used {percent:.1f}% of one core "
          f"(target <= {TARGETS['server_cpu_percent']:.0f}%); their pages read {readings / elapsed:.1f} faces/s in "
          f"all on this machine's 2 cores (each learner's own device reads its own); another learner's first quiz "
          f"face, the server's part: {statistics.median(idle):.2f} s with their cameras stopped ({min(idle):.2f}-{max(idle):.2f}), "
          f"{statistics.median(busy):.2f} s beside them ({min(busy):.2f}-{max(busy):.2f}), medians of {quiz_runs}: "
          f"{ratio:.2f}x (target <= {TARGETS['quiz_ratio']}x): {verdict(met)}", flush=True)
    return met


# a still face's reading once it has been still for a few frames (framed then as a photo's face is)
SETTLED_RAW = """async () => { const r = [...window.fercoreReaders][0], n = r.readings;
  while (r.readings < n + 10) await new Promise(done => setTimeout(done, 20));
  const v = r.video, c = document.createElement('canvas'); c.width = v.videoWidth; c.height = v.videoHeight;
  c.getContext('2d').drawImage(v, 0, 0);
  return [r.reading.raw, c.toDataURL('image/png')]; }"""


def held_still(playwright, url: str, frames: list[np.ndarray], scratch: Path) -> bool:
    """Each face alone on the camera: the reader's reading of a frame against `fercore predict` on that frame
    as the page drew it (the camera's frames of a still face are all the same)."""
    readings, paths = [], []
    for n, frame in enumerate(frames):
        with chromium(playwright, write_y4m(scratch / f"still-{n}.y4m", [frame], repeat=1)) as browser:
            page = browser.new_page()
            start_reading(page, url)
            raw, png = page.evaluate(SETTLED_RAW)
        if raw is None:
            print(f"    face {n}: the reader found no face", flush=True)
            continue
        readings.append(np.array(raw))
        paths.append(scratch / f"still-{n}.png")
        paths[-1].write_bytes(base64.b64decode(png.split(",", 1)[1]))
    out = subprocess.run([sys.executable, "-m", "fercore", "predict", str(SHIPPED_MODEL), *map(str, paths), "--json"],
                         cwd=PROJECT_ROOT, capture_output=True, text=True, check=True).stdout
    predicted = [np.array([row["faces"][0]["probabilities"][e] for e in EMOTIONS]) for row in json.loads(out)]
    same_top = sum(int(r.argmax() == p.argmax()) for r, p in zip(readings, predicted))
    gap = max(float(np.abs(r - p).max()) for r, p in zip(readings, predicted))
    met = same_top >= TARGETS["same_top"] and gap <= TARGETS["gap"]
    print(f"(c) a face held still, {len(frames)} faces: the same top reading as `fercore predict` on {same_top} "
          f"(target {TARGETS['same_top']} of 10); largest difference in any emotion's probability {gap:.4f} "
          f"(target <= {TARGETS['gap']}): {verdict(met)}", flush=True)
    return met


def main() -> int:
    from playwright.sync_api import sync_playwright

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", default=str(resolve_data_path()))
    parser.add_argument("--seconds", type=float, default=60)
    parser.add_argument("--quiz-runs", type=int, default=8)
    parser.add_argument("--parts", default="abc", help="which of (a), (b), (c) to run")
    args = parser.parse_args()
    print(f"CPU: {cpu_description()}; load average {os.getloadavg()[0]:.1f} at the start", flush=True)
    predictor = Predictor.from_path(SHIPPED_MODEL)
    frames = framed_faces(Path(args.data), predictor, None, 10)
    happy = framed_faces(Path(args.data), predictor, "happy", 1)[0][120:360, 200:440]  # the face, enlarged
    with tempfile.TemporaryDirectory() as scratch, sync_playwright() as playwright, app_server({
            "FER_DATA": args.data, "FER_DB": f"{scratch}/progress.sqlite3", "FER_TRAINED_DIR": f"{scratch}/trained",
            "FER_ACTIVE_MODEL_FILE": f"{scratch}/active.json"}, timeout=120) as (url, _):
        video = write_y4m(Path(scratch) / "happy.y4m", moving_face(happy), repeat=1)
        met = [one_learner(playwright, url, video, min(args.seconds, 20)) if "a" in args.parts else True,
               ten_learners(playwright, url, video, args.seconds, args.quiz_runs) if "b" in args.parts else True,
               held_still(playwright, url, frames, Path(scratch)) if "c" in args.parts else True]
    print(f"load average {os.getloadavg()[0]:.1f} at the end; " + ("all targets met" if all(met) else
                                                                   "targets NOT all met"), flush=True)
    return 0 if all(met) else 1


if __name__ == "__main__":
    sys.exit(main())
