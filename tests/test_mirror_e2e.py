"""The Live mirror and practice with someone (Guess the face, Bring it out) in Debian's Chromium with a fake
camera that films real FER2013 faces (a Y4M video made here, in tmp), read in the page itself by the on-device
reader (ui/camera_reader), against `streamlit run app.py` on loopback.

One app server and one camera-carrying Chromium for the module; a refused or missing camera has a Chromium of
its own.
"""
import base64
import gzip
import os
import re
import urllib.error
import urllib.request
from contextlib import contextmanager

import cv2
import numpy as np
import pytest
from browser import CHROMIUM, CHROMIUM_ARGS, FINGER, app_server, settled
from camera import fake_camera_args, framed_faces, write_y4m
from test_faces import findable, noisy_canvas, paste, paste_turned, public_faces
from test_e2e import accessible, browser, new_page, no_traceback, open_page, shot, sign_in  # noqa: F401 (a fixture)

from fercore.data import resolve_data_path
from fercore.faces import find_faces, find_near_faces
from fercore.predict import Predictor
from fercore.registry import SHIPPED_MODEL
from fercore.store import Store
from ui.camera_reader.files import FOLDER, RUNTIME, runtime_version

LAPTOP = {"width": 1366, "height": 768}
# Every camera track and peer connection the page opens, kept where the test can look at them.
WATCH = """(() => {
  window.__tracks = []; window.__connections = 0;
  const getUserMedia = navigator.mediaDevices && navigator.mediaDevices.getUserMedia.bind(navigator.mediaDevices);
  if (getUserMedia) navigator.mediaDevices.getUserMedia = async (c) => {
    const stream = await getUserMedia(c); window.__tracks.push(...stream.getTracks()); return stream; };
  const Native = window.RTCPeerConnection;
  if (Native) window.RTCPeerConnection = function (...args) { window.__connections++; return new Native(...args); };
})()"""
LIVE_TRACKS = "() => window.__tracks.filter(t => t.readyState === 'live').length"
READER = "[...window.fercoreReaders][0]"
# The reader's own reading of a frame of the still face (held still for several frames: framed as a photo's
# face), and that frame as the page drew it.
SETTLED = f"""async () => {{ const r = {READER}, n = r.readings;
  while (r.readings < n + 10) await new Promise(done => setTimeout(done, 20));
  const v = r.video, c = document.createElement('canvas'); c.width = v.videoWidth; c.height = v.videoHeight;
  c.getContext('2d').drawImage(v, 0, 0);
  return [r.reading.raw, c.toDataURL('image/png')]; }}"""
# The boxes of the reader's parts, in the page, at its top.
BOXES = """() => { const root = [...window.fercoreReaders][0].root, place = s => {
    const r = root.querySelector(s).getBoundingClientRect(); return {top: r.top, bottom: r.bottom, height: r.height}; };
  return {button: place('.start'), video: place('video'), meter: place('.meter')}; }"""


@pytest.fixture(scope="module")
def data_path(browser):
    """The real FER2013, as test_e2e's app needs it (after test_e2e's check for Chromium)."""
    path = resolve_data_path()
    if not path.exists():
        if os.environ.get("FER_REQUIRE_DATA") == "1":
            pytest.fail(f"FER_REQUIRE_DATA=1 but FER2013 is not at {path}")
        pytest.skip("FER2013 not found; set FER_DATA to run the browser tests")
    return path


@pytest.fixture(scope="module")
def predictor():
    return Predictor.from_path(SHIPPED_MODEL)


@contextmanager
def chromium_beside(browser, args: list[str]):
    """Another Chromium with its own flags, from the Playwright that runs `browser` (one per process)."""
    launched = browser.browser_type.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS + args, headless=True)
    try:
        yield launched
    finally:
        launched.close()


@pytest.fixture(scope="module")
def camera_browser(browser, data_path, predictor, tmp_path_factory):
    frames = framed_faces(data_path, predictor, "happy", 1)
    assert frames, "no happy face among the first PublicTest faces"
    video = write_y4m(tmp_path_factory.mktemp("camera") / "happy.y4m", frames)
    with chromium_beside(browser, fake_camera_args(video)) as launched:
        yield launched


@pytest.fixture(scope="module")
def served(camera_browser, data_path, tmp_path_factory):
    """The app's address and its store's file."""
    scratch = tmp_path_factory.mktemp("mirror-e2e")
    env = {"FER_DB": str(scratch / "progress.sqlite3"), "FER_TRAINED_DIR": str(scratch / "trained"),
           "FER_ACTIVE_MODEL_FILE": str(scratch / "active_model.json"), "FER_DATA": str(data_path),
           "FER_E2E_LOG": str(scratch / "streamlit.log")}
    with app_server(env) as (url, _):
        yield url, scratch / "progress.sqlite3"


@pytest.fixture(scope="module")
def app(served):
    return served[0]


@contextmanager
def mirror_page(camera_browser, app, **size):
    """The Live mirror, watched: its camera tracks, its peer connections, and the size of every message it
    sends the server."""
    with new_page(camera_browser, **size) as page:
        page.context.grant_permissions(["camera"])
        page.add_init_script(WATCH)
        page.sent = []
        page.on("websocket", lambda socket: socket.on("framesent", lambda payload: page.sent.append(len(payload))))
        open_page(page, app, "Live mirror")
        settled(page)
        yield page


def press(page, name: str) -> None:
    """The reader's button, by keyboard as a learner without a mouse does."""
    button = page.get_by_role("button", name=name, exact=True)
    button.focus()
    button.press("Enter")


def test_the_face_is_read_on_the_device_and_no_video_leaves_the_page(camera_browser, app, predictor):
    with mirror_page(camera_browser, app, **LAPTOP) as page:
        assert page.get_by_role("button", name="Start the camera").bounding_box()["height"] >= FINGER
        press(page, "Start the camera")
        twin = page.get_by_role("status")
        twin.filter(has_text=re.compile(r"^The model reads happy at about \d+%\.$")).wait_for()
        page.get_by_text(re.compile(r"^happy: \d+%$")).wait_for()  # the meter over the video
        sent_while_reading = len(page.sent)

        # the reading is the app's own: a still face read as the server reads it in a photo, on the very frame
        raw, png = page.evaluate(SETTLED)
        frame = cv2.imdecode(np.frombuffer(base64.b64decode(png.split(",", 1)[1]), np.uint8), cv2.IMREAD_GRAYSCALE)
        face = max(find_faces(frame)[0], key=lambda f: f.box[2])
        served = predictor.probabilities(face.crop[None])[0]
        assert np.abs(np.array(raw) - served).max() <= 0.03, (raw, served)

        # on a laptop's screen: Stop, the video and its meter on the first screen
        boxes = page.evaluate(BOXES)
        assert boxes["button"]["top"] >= 0 and boxes["meter"]["bottom"] <= LAPTOP["height"], boxes
        assert boxes["video"]["height"] >= 240, boxes
        accessible(page, "live mirror reading")
        no_traceback(page)
        shot(page, "live-mirror-reading")
        assert page.evaluate("() => window.__connections") == 0, "no RTCPeerConnection in on-device reading"
        assert all(size < 2_000 for size in page.sent[:sent_while_reading] + page.sent[sent_while_reading:]), \
            f"only small messages reach the server while the face is read: {sorted(page.sent)[-3:]}"

        press(page, "Stop")
        page.wait_for_function(f"() => ({LIVE_TRACKS})() === 0")
        assert twin.count() == 0
        press(page, "Start the camera")
        twin.filter(has_text="The model reads happy").wait_for()
        page.get_by_test_id("stSidebarNav").get_by_role("link", name="Home").click()
        page.wait_for_function(f"() => ({LIVE_TRACKS})() === 0")  # leaving the page releases the camera


def test_a_goal_held_keeps_its_still_with_where_the_model_looked(camera_browser, app):
    with mirror_page(camera_browser, app) as page:
        page.emulate_media(reduced_motion="reduce")  # the meter moves in calm steps of 10%
        page.get_by_text("Goal: hold it for about two seconds").click()  # at 60%, the face's happy holds it
        settled(page)
        press(page, "Start the camera")
        page.get_by_text(re.compile(r"^happy: \d*0%$")).wait_for()
        page.get_by_role("heading", name="You held it").wait_for()
        page.get_by_text(re.compile(r"^your best frame: happy at \d+%")).wait_for()
        page.get_by_role("img", name=re.compile("^Your face under a heatmap")).wait_for()
        assert sum(size > 20_000 for size in page.sent) == 1, "the held goal's one still, and no other picture"
        assert page.evaluate("() => window.__connections") == 0
        no_traceback(page)
        accessible(page, "live mirror goal held")
        page.get_by_role("button", name="Try again").click()
        page.get_by_role("heading", name="You held it").wait_for(state="detached")
        page.get_by_role("heading", name="You held it").wait_for()  # held again: the goal started afresh


@pytest.mark.parametrize("camera, sentence", [
    (["--use-fake-device-for-media-stream", "--deny-permission-prompts"], "The camera was refused"),
    ([], "No camera could be opened on this device"),  # headless Chromium without a fake camera has none
])
def test_a_refused_or_missing_camera_gets_one_sentence_and_the_way_to_the_snapshot_mirror(browser, app, camera,
                                                                                           sentence):
    with chromium_beside(browser, camera) as launched, new_page(launched) as page:
        open_page(page, app, "Live mirror")
        press(page, "Start the camera")
        said = page.get_by_role("alert").filter(has_text=sentence)
        said.wait_for()
        assert said.inner_text().endswith("Mirror practice on the Your photo page works with single pictures instead.")
        assert not page.locator("video").is_visible()
        no_traceback(page)


def fetch(url: str, gzip_accepted: bool = True):
    request = urllib.request.Request(url, headers={"Accept-Encoding": "gzip"} if gzip_accepted else {})
    try:
        with urllib.request.urlopen(request, timeout=60) as response:
            return response.status, response.headers, response.read()
    except urllib.error.HTTPError as error:
        return error.code, error.headers, b""


def test_the_readers_files_come_from_the_app_kept_a_year_and_compressed_once(app):
    wasm = f"{app}/on-device/onnxruntime-web-{runtime_version()}/ort-wasm-simd-threaded.wasm"
    expected = (RUNTIME / "dist" / "ort-wasm-simd-threaded.wasm").read_bytes()
    status, headers, body = fetch(wasm)
    assert status == 200 and headers["Content-Type"] == "application/wasm"
    assert "immutable" in headers["Cache-Control"] and "max-age=31536000" in headers["Cache-Control"]
    assert headers["Content-Encoding"] == "gzip" and gzip.decompress(body) == expected
    assert len(body) < len(expected) / 2
    status, headers, body = fetch(wasm, gzip_accepted=False)
    assert status == 200 and "Content-Encoding" not in headers and body == expected
    for wrong in ("onnxruntime-web-0.0.1/ort.wasm.min.mjs", f"onnxruntime-web-{runtime_version()}/package.json",
                  "model-../../app.py", "model-0123456789abcdef.onnx", "..%2F..%2Fapp.py"):
        assert fetch(f"{app}/on-device/{wrong}")[0] in (400, 404), wrong  # refused, nothing served


def pictures(root) -> dict[str, np.ndarray]:
    """Gray 640x480 frames a learner's camera could show: a face upright, leaning either way, two faces (the
    nearer is read), one at the frame's edge, a small one far off, and none."""
    one, two = findable(public_faces(root, 60), 2, side=200)
    made = {name: noisy_canvas(640, 480, seed) for seed, name in enumerate(
        ["upright", "leaning left", "leaning right", "two faces", "at the edge", "far off", "no face"])}
    paste(made["upright"], one, 200, 120, 240)
    paste_turned(made["leaning left"], one, 200, 120, 240, 20)
    paste_turned(made["leaning right"], two, 220, 100, 260, -25)
    paste(made["two faces"], one, 40, 160, 140)
    paste(made["two faces"], two, 330, 80, 280)
    paste(made["at the edge"], two, 440, 150, 200)
    paste(made["far off"], one, 300, 200, 90)
    return made


def test_the_browser_finds_frames_and_reads_faces_as_fercore_does(camera_browser, app, data_path, predictor):
    """reader.js's readPicture (the reader's own code) against fercore.faces.find_near_faces (a moving face) and
    find_faces (a still one, as a photo's), and the server's reading, on pictures the fake camera doesn't show."""
    source = (FOLDER / "reader.js").read_text()
    with mirror_page(camera_browser, app) as page:
        page.evaluate("source => window.readerModule = import(URL.createObjectURL("
                      "new Blob([source], {type: 'text/javascript'})))", source)
        for (name, gray), photo in [(picture, photo) for picture in pictures(data_path).items() for photo in (0, 1)]:
            rgba = np.dstack([gray, gray, gray, np.full_like(gray, 255)])
            read = page.evaluate("""async ([settings, pixels, photo]) => {
                const rgba = Uint8ClampedArray.from(atob(pixels), c => c.charCodeAt(0));
                return (await window.readerModule).readPicture(settings, rgba, 640, 480, photo); }""",
                                 [page.evaluate(f"() => {READER}.settings"), base64.b64encode(rgba.tobytes()).decode(),
                                  bool(photo)])
            found = sorted(find_faces(gray)[0], key=lambda f: -f.box[2]) if photo else find_near_faces(gray)
            if not found:
                assert read is None, name
                continue
            assert name != "no face" and read is not None, name
            face = found[0]
            assert np.abs(np.array(read["box"]) - face.box).max() <= 1, (name, read["box"], face.box)
            crop = np.array(read["crop"], np.uint8).reshape(48, 48)
            assert np.abs(crop.astype(int) - face.crop).mean() < 1.0, name  # OpenCV's own rounding aside
            served = predictor.probabilities(face.crop[None])[0]
            assert np.abs(np.array(read["probabilities"]) - served).max() <= 0.03, (name, read["probabilities"], served)


# Practice with someone in the room (pages/partner.py): the fake camera's happy face is the partner's, on a
# tablet held between two people.

TABLETS = [(820, 1180), (1180, 820)]
# The video's and the last choice's boxes, in the page, once both show.
ON_ONE_SCREEN = """() => { const root = [...(window.fercoreReaders || [])][0]?.root;
  const video = root?.querySelector('video'), buttons = root ? [...root.querySelectorAll('.choices button')] : [];
  if (!video?.videoHeight || !buttons.length) return null;
  const box = e => e.getBoundingClientRect();
  return { videoTop: box(video).top, videoHeight: box(video).height, lastChoice: box(buttons.at(-1)).bottom,
           smallest: Math.min(...buttons.map(b => box(b).height)), inner: innerHeight }; }"""


def sign_in_as(page, nickname: str) -> str:
    """A new learner, as the quiz's tests sign in (after the page has settled); their key."""
    key = sign_in(page, nickname)
    page.get_by_role("button", name="I have kept my key").click()
    settled(page)
    return key


def partner_chooses(page, emotion: str) -> None:
    page.get_by_role("button", name="I'm the partner: show me a suggestion").click()
    page.get_by_role("radiogroup").get_by_text(emotion, exact=True).click()
    settled(page)
    page.get_by_role("button", name="Ready: hide it, and the learner may look").click()
    settled(page)


def open_at(page, url: str, path: str, title: str) -> None:
    """A page by its address, as a bookmark opens it: the navigation is folded away on a tablet."""
    page.goto(f"{url}/{path}")
    page.get_by_role("heading", name=title).wait_for()
    settled(page)


def test_guess_the_face_a_round_is_stored_once_under_the_learner_and_forgotten_with_them(camera_browser, served):
    url, db = served
    with new_page(camera_browser, *TABLETS[0]) as page:
        page.context.grant_permissions(["camera"])
        open_at(page, url, "partner", "Practise with someone")
        key = sign_in_as(page, "Robin")
        press(page, "Start the camera")
        partner_chooses(page, "happy")
        choices = page.get_by_role("group", name="What do you see?")
        choices.get_by_role("button", name="happy").wait_for()
        for width, height in TABLETS:  # the partner's face and the choices on one tablet screen, either way round
            page.set_viewport_size({"width": width, "height": height})
            page.evaluate("document.querySelectorAll('*').forEach(e => { e.scrollTop = 0; })")
            boxes = page.wait_for_function(f"""() => {{ const b = ({ON_ONE_SCREEN})();
                return b && b.videoHeight >= 200 && b.videoTop >= 0 && b.lastChoice <= b.inner && b; }}""",
                                         timeout=30_000).json_value()
            assert boxes["videoHeight"] >= 200 and boxes["smallest"] >= FINGER, (width, height, boxes)
        shot(page, "guess-the-face-question")
        accessible(page, "guess the face, the question")
        choice = choices.get_by_role("button", name="happy")
        choice.focus()
        choice.press("Enter")  # by keyboard, as a learner without a mouse chooses

        page.get_by_role("heading", name="What you each saw").wait_for()
        choices.get_by_role("button").first.wait_for(state="detached")  # no choices left to press in the reveal
        assert page.get_by_test_id("stMetric").filter(has_text="Your partner meant").inner_text().endswith("happy")
        assert page.get_by_test_id("stMetric").filter(has_text="You chose").inner_text().endswith("happy")
        page.get_by_test_id("stMetric").filter(has_text="The model's second opinion").filter(
            has_text=re.compile(r"happy\s*\d+% sure")).wait_for()
        page.get_by_text("You read what your partner meant.").wait_for()
        page.get_by_role("img", name=re.compile("^Your partner's face as you chose, under a heatmap")).wait_for()
        no_traceback(page)
        accessible(page, "guess the face, the reveal")
        shot(page, "guess-the-face-reveal")

        store = Store(db)
        stored = store.answers_with_people("Robin")
        assert [(a.intended, a.choice) for a in stored] == [(3, 3)] and stored[0].model_reading == 3
        assert store.answers("Robin") == []  # kept apart from the quiz's answers

        page.get_by_role("button", name="Next round").click()
        page.get_by_role("button", name="I'm the partner: show me a suggestion").wait_for()
        assert len(store.answers_with_people("Robin")) == 1

        open_at(page, url, "progress", "Your progress")  # shown "with people", beside the pictures
        sign_in(page, "Robin", key)  # by Enter: a click on Continue straight after typing was lost once in 14 runs
        page.get_by_role("heading", name="With people").wait_for()
        page.get_by_text("your first happy face with people").wait_for()  # a mark of practice
        page.get_by_text("Delete all my answers").click()
        page.get_by_label("Type your key to confirm").fill(key)
        page.get_by_role("button", name="Delete everything").click()
        page.get_by_text(re.compile(r"^Deleted 1 answer\(s\) and the nickname Robin")).wait_for()
        assert store.answers_with_people("Robin") == []


def test_bring_it_out_says_there_it_is_when_the_face_shows_it_and_not_when_it_does_not(camera_browser, app):
    with new_page(camera_browser, *TABLETS[1]) as page:
        page.context.grant_permissions(["camera"])
        open_at(page, app, "partner", "Practise with someone")
        sign_in_as(page, "Kai")
        page.get_by_role("radiogroup", name="Game").get_by_text("Bring it out").click()
        settled(page)
        page.get_by_label("Emotion to bring out").click()
        page.get_by_role("option", name="angry").click()  # the partner's face shows happy, not angry
        settled(page)
        press(page, "Start the camera")
        page.wait_for_function("() => [...window.fercoreReaders].some(r => r.readings > 60)", timeout=60_000)
        assert page.get_by_role("heading", name="There it is").count() == 0

        page.get_by_label("Emotion to bring out").click()
        page.get_by_role("option", name="happy").click()
        page.get_by_role("heading", name="There it is").wait_for()
        page.get_by_role("img", name=re.compile("^Your partner's face showing happy")).wait_for()
        no_traceback(page)
