"""The live mirror in Debian's Chromium with a fake camera that films real FER2013 faces (a Y4M video made
here, in tmp), streamed over WebRTC to `streamlit run app.py` on loopback and back with the reading drawn.

One app server and one camera-carrying Chromium for the module; the refused camera has a Chromium of its own.
"""
import os
import re
from contextlib import contextmanager

import cv2
import numpy as np
import pytest
from browser import CHROMIUM, CHROMIUM_ARGS, app_server, settled, video_buttons_fit, video_component
from test_e2e import accessible, browser, new_page, no_traceback, open_page, shot  # noqa: F401 (a fixture)
from test_faces import noisy_canvas, public_faces

from fercore.data import resolve_data_path
from fercore.faces import find_near_faces
from fercore.labels import EMOTIONS
from fercore.predict import Predictor
from fercore.registry import SHIPPED_MODEL

FRAME = (640, 480)
NARROW = {"width": 820, "height": 1180}  # a portrait tablet's width: the page's touch styles apply
# Every camera track and peer connection the page's frames open, kept where the test can look at them.
WATCH = """(() => {
  const top = window.top;
  top.__tracks = top.__tracks || []; top.__connections = top.__connections || [];
  const getUserMedia = navigator.mediaDevices && navigator.mediaDevices.getUserMedia.bind(navigator.mediaDevices);
  if (getUserMedia) navigator.mediaDevices.getUserMedia = async (c) => {
    const stream = await getUserMedia(c); top.__tracks.push(...stream.getTracks()); return stream; };
  const Native = window.RTCPeerConnection;
  if (Native) window.RTCPeerConnection = function (...args) {
    const pc = new Native(...args); top.__connections.push(pc); return pc; };
  if (Native) window.RTCPeerConnection.prototype = Native.prototype;
})()"""
LIVE = "() => [window.__tracks.filter(t => t.readyState === 'live').length, " \
       "window.__connections.filter(c => c.connectionState === 'connected').length]"
# The bottom rows of the video as it comes back: the meter's dimmed panel, with white words and bar on it.
PANEL = """v => { const c = document.createElement('canvas'); c.width = v.videoWidth; c.height = v.videoHeight;
  const g = c.getContext('2d'); g.drawImage(v, 0, 0); const h = Math.round(c.height * 0.12);
  const mean = (y) => { const d = g.getImageData(0, y, c.width, h).data; let s = 0;
    for (let i = 0; i < d.length; i += 4) s += d[i]; return s / (d.length / 4); };
  return [mean(c.height - h), mean(0)]; }"""


def still_faces(root, emotion: str, n: int = 1) -> list[tuple[np.ndarray, np.ndarray]]:
    """Real PublicTest faces of `emotion`, enlarged onto a 640x480 frame, that the shipped model reads as that
    emotion on the frame (so the test checks streaming and reading, not the model's accuracy)."""
    predictor = Predictor.from_path(SHIPPED_MODEL)
    chosen = []
    for face in public_faces(root, 400):
        frame = noisy_canvas(*FRAME)
        frame[120:360, 200:440] = cv2.resize(face, (240, 240), interpolation=cv2.INTER_CUBIC)
        found = find_near_faces(frame)
        if found and EMOTIONS[int(predictor.probabilities(found[0].crop[None])[0].argmax())] == emotion:
            chosen.append(frame)
            if len(chosen) == n:
                return chosen
    pytest.fail(f"no {emotion} face found among the first 400 PublicTest faces")


def write_y4m(path, frames: list[np.ndarray], repeat: int = 15) -> None:
    """A YUV4MPEG2 video Chromium's fake camera plays in a loop: each grey frame shown `repeat` times."""
    with open(path, "wb") as out:
        out.write(f"YUV4MPEG2 W{FRAME[0]} H{FRAME[1]} F30:1 Ip A1:1 C420jpeg\n".encode())
        for frame in frames:
            planes = cv2.cvtColor(cv2.cvtColor(frame, cv2.COLOR_GRAY2BGR), cv2.COLOR_BGR2YUV_I420).tobytes()
            for _ in range(repeat):
                out.write(b"FRAME\n" + planes)


@pytest.fixture(scope="module")
def data_path(browser):
    """The real FER2013, as test_e2e's app needs it (after test_e2e's check for Chromium)."""
    path = resolve_data_path()
    if not path.exists():
        if os.environ.get("FER_REQUIRE_DATA") == "1":
            pytest.fail(f"FER_REQUIRE_DATA=1 but FER2013 is not at {path}")
        pytest.skip("FER2013 not found; set FER_DATA to run the browser tests")
    return path


@contextmanager
def chromium_beside(browser, args: list[str]):
    """Another Chromium with its own flags, from the Playwright that runs `browser` (one per process)."""
    launched = browser.browser_type.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS + args, headless=True)
    try:
        yield launched
    finally:
        launched.close()


@pytest.fixture(scope="module")
def camera_browser(browser, data_path, tmp_path_factory):
    video = tmp_path_factory.mktemp("camera") / "happy.y4m"
    write_y4m(video, still_faces(data_path, "happy"))
    with chromium_beside(browser, ["--use-fake-device-for-media-stream", "--use-fake-ui-for-media-stream",
                                   f"--use-file-for-fake-video-capture={video}"]) as launched:
        yield launched


@pytest.fixture(scope="module")
def app(camera_browser, data_path, tmp_path_factory):
    scratch = tmp_path_factory.mktemp("mirror-e2e")
    env = {"FER_DB": str(scratch / "progress.sqlite3"), "FER_TRAINED_DIR": str(scratch / "trained"),
           "FER_ACTIVE_MODEL_FILE": str(scratch / "active_model.json"), "FER_DATA": str(data_path),
           "FER_E2E_LOG": str(scratch / "streamlit.log")}
    with app_server(env) as (url, _):
        yield url


def press(page, name: str) -> None:
    """A button in the component's frame, by keyboard as a learner without a mouse does."""
    button = video_component(page).get_by_role("button", name=name)
    button.focus()
    button.press("Enter")


def live_counts(page) -> list[int]:
    return page.evaluate(LIVE)


def background_priorities(url: str) -> tuple[int, list[int]]:
    """How many of the app server's threads run at the lowest CPU priority, and the nice values of its child
    processes."""
    port = url.rsplit(":", 1)[1]
    server = next(pid for pid in os.listdir("/proc") if pid.isdigit() and f"--server.port\0{port}\0".encode()
                  in open(f"/proc/{pid}/cmdline", "rb").read())
    lowest = sum(os.getpriority(os.PRIO_PROCESS, int(tid)) == 19 for tid in os.listdir(f"/proc/{server}/task"))
    children = [int(pid) for pid in os.listdir("/proc") if pid.isdigit() and
                open(f"/proc/{pid}/stat").read().rsplit(")", 1)[1].split()[1] == server]
    return lowest, [os.getpriority(os.PRIO_PROCESS, pid) for pid in children]


def test_the_stream_reads_the_face_and_stops_on_stop_and_on_leaving(camera_browser, app):
    with new_page(camera_browser) as page:
        page.context.grant_permissions(["camera"])
        page.context.add_init_script(WATCH)
        open_page(page, app, "Live mirror")
        page.get_by_text("mirror practice on the Your photo page").wait_for()
        page.get_by_text("Goal: hold it for about two seconds").click()  # at 60%, the face's happy holds it
        settled(page)
        video_buttons_fit(page, "Start the camera", finger_sized=False)
        press(page, "Start the camera")
        twin = page.get_by_role("status")
        twin.filter(has_text=re.compile(r"^The model reads happy at about \d+%\.$")).wait_for()
        assert live_counts(page) == [1, 1]
        lowest, children = background_priorities(app)  # the quiz's pages come first (benchmarks/mirror.py)
        assert lowest >= 3, "the video callback, aiortc's decoder and its encoder run at the lowest priority"
        assert 19 in children, "the faces are read in a process of their own at the lowest priority"
        video = video_component(page).locator("video")
        video.evaluate("v => v.readyState >= 2 || new Promise(r => v.addEventListener('loadeddata', r, {once: true}))")
        panel, above = video.evaluate(PANEL)
        assert panel < above * 0.75, (panel, above)  # the meter's panel is drawn on the video that comes back
        page.get_by_role("heading", name="You held it").wait_for()
        page.get_by_text(re.compile(r"^your best frame: happy at \d+%")).wait_for()
        page.get_by_role("img", name=re.compile("^Your face under a heatmap")).wait_for()
        no_traceback(page)
        accessible(page, "live mirror playing")
        shot(page, "live-mirror-held")
        # The window narrowed to a tablet's width and back: Stop is finger-sized, then as it was
        page.set_viewport_size(NARROW)
        video_buttons_fit(page, "Stop", finger_sized=True)
        page.set_viewport_size({"width": 1280, "height": 1600})
        video_buttons_fit(page, "Stop", finger_sized=False)

        press(page, "Stop")
        page.get_by_text("mirror practice on the Your photo page").wait_for()
        page.wait_for_function("() => window.__connections.every(c => c.connectionState === 'closed')")
        assert live_counts(page) == [0, 0]
        assert twin.count() == 0

        press(page, "Start the camera")
        twin.filter(has_text="The model reads happy").wait_for()
        page.get_by_test_id("stSidebarNav").get_by_role("link", name="Home").click()
        page.wait_for_function("() => window.__tracks.every(t => t.readyState === 'ended')")
        assert live_counts(page) == [0, 0]


def test_a_refused_camera_gets_the_sentence(browser, app):
    with chromium_beside(browser, ["--use-fake-device-for-media-stream", "--deny-permission-prompts"]) as refusing:
        with new_page(refusing) as page:
            open_page(page, app, "Live mirror")
            press(page, "Start the camera")
            # the component says what the browser said; the page's sentence offers the snapshot mirror
            video_component(page).get_by_text(re.compile("Permission denied|The camera was refused")).wait_for()
            page.get_by_text("the camera was refused, no connection, or a browser without live video), mirror "
                             "practice on the Your photo page works with single pictures.").wait_for()
            assert video_component(page).locator("video").count() == 0
            no_traceback(page)
            shot(page, "live-mirror-refused")
