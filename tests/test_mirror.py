"""The live mirror's frame callback on its own: real FER2013 faces enlarged onto 640x480 video frames, read
by the shipped model, as the video callback sees them."""
import multiprocessing
import os
import time

import cv2
import numpy as np
import pytest
from test_faces import findable, iou, noisy_canvas, paste, paste_turned, public_faces

from fercore import mirror
from fercore.faces import WHOLE_FRAME_EVERY, find_near_faces
from fercore.labels import EMOTIONS
from fercore.mirror import LiveMirror, Reading, draw, say
from fercore.predict import Predictor
from fercore.registry import SHIPPED_MODEL

WAIT_S = 60  # a reading takes tens of milliseconds; a loaded CI machine can be far slower


@pytest.fixture(scope="module")
def predictor():
    return Predictor.from_path(SHIPPED_MODEL)


@pytest.fixture
def faces(real_data_path):
    return findable(public_faces(real_data_path, 40), 6, side=200)


def frame_with(*placed, seed: int = 0) -> np.ndarray:
    """A BGR video frame: noise with each (face, x, y, side) pasted on it."""
    canvas = noisy_canvas(640, 480, seed)
    for face, x, y, side in placed:
        paste(canvas, face, x, y, side)
    return cv2.cvtColor(canvas, cv2.COLOR_GRAY2BGR)


def read(live: LiveMirror, frame: np.ndarray, readings: int = 1) -> np.ndarray:
    """Send the same frame, as a camera does, until `readings` of it have been made; the last frame drawn."""
    deadline, first = time.monotonic() + WAIT_S, live.frames + 1
    while time.monotonic() < deadline:
        live.frame(frame)
        if live.reading.seq >= first + readings - 1:
            return live.frame(frame)  # drawn with that reading
        time.sleep(0.01)
    pytest.fail(f"no reading within {WAIT_S} s")


def test_a_face_is_outlined_read_and_drawn_without_changing_the_frame_sent(predictor, faces):
    frame = frame_with((faces[0], 220, 100, 200))
    sent = frame.copy()
    live = LiveMirror(predictor, target="happy")
    shown = read(live, frame)
    reading = live.reading
    assert iou(reading.face.box, (220, 100, 200, 200)) > 0.35  # YuNet frames some real faces tighter than their FER2013 square
    expected = predictor.probabilities(find_near_faces(cv2.cvtColor(frame, cv2.COLOR_BGR2GRAY))[0].crop[None])[0]
    np.testing.assert_allclose(reading.probabilities, expected, atol=1e-5)  # a first reading: nothing smoothed
    assert np.array_equal(frame, sent), "the frame the model reads must not carry the overlay"
    assert not np.array_equal(shown, frame) and shown.shape == frame.shape
    x, y, w, h = reading.face.box
    assert (shown[y, x + w // 2] == 255).all(), "the face's outline is drawn in white"
    strength = round(float(expected[EMOTIONS.index("happy")]) * 10) * 10
    assert say(reading, EMOTIONS.index("happy")).startswith(f"The model reads happy at about {strength}%.")
    live.stop()


def settled(live: LiveMirror, predictor) -> np.ndarray:
    """The model's own reading of the face the meter outlines, which a still face's meter settles on."""
    return predictor.probabilities(live.reading.face.crop[None])[0]


def test_the_video_callback_answers_a_camera_frame_with_the_drawn_frame_in_the_encoders_format(predictor, faces):
    import av

    frame = frame_with((faces[0], 220, 100, 200))
    sent = av.VideoFrame.from_ndarray(frame, format="bgr24").reformat(format="yuv420p")  # as a camera's arrives
    live = LiveMirror(predictor)
    deadline = time.monotonic() + WAIT_S
    while live.reading.seq == 0 and time.monotonic() < deadline:
        back = live.video(sent)
        time.sleep(0.01)
    back = live.video(sent)
    assert (back.format.name, back.width, back.height) == ("yuv420p", 640, 480)
    shown = back.to_ndarray(format="bgr24").astype(int)
    x, y, w, h = live.reading.face.box
    assert (shown[y, x + w // 2] > 240).all(), "the face's outline is drawn in white"
    above = slice(0, y - 10)  # above the outline: the picture itself, through YUV 4:2:0 and back
    assert np.abs(shown[above] - sent.to_ndarray(format="bgr24")[above]).mean() < 3
    live.stop()


def test_a_face_held_still_settles_on_its_own_reading(predictor, faces):
    frame = frame_with((faces[1], 180, 80, 240))
    live = LiveMirror(predictor, target="sad")
    read(live, frame, readings=2 * WHOLE_FRAME_EVERY)  # a search of the whole frame changes nothing
    np.testing.assert_allclose(live.reading.probabilities, settled(live, predictor), atol=0.01)
    whole = find_near_faces(cv2.cvtColor(frame, cv2.COLOR_BGR2GRAY))[0]
    assert iou(live.reading.face.box, whole.box) > 0.8  # followed near where it was, still the same face
    live.stop()


def test_with_reduced_motion_the_meter_moves_in_steps_of_ten(predictor, faces):
    frame = frame_with((faces[0], 220, 100, 200))
    face = find_near_faces(cv2.cvtColor(frame, cv2.COLOR_BGR2GRAY))[0]

    def meter(happy: float, step: float) -> np.ndarray:
        probabilities = np.full(7, (1 - happy) / 6, np.float32)
        probabilities[EMOTIONS.index("happy")] = happy
        return draw(frame, Reading(1, face, probabilities), EMOTIONS.index("happy"), step=step)

    assert np.array_equal(meter(0.71, 0.1), meter(0.74, 0.1))
    assert not np.array_equal(meter(0.71, 0.01), meter(0.74, 0.01))
    assert not np.array_equal(meter(0.71, 0.1), meter(0.81, 0.1))


def test_no_face_and_noise_are_said_plainly(predictor):
    live = LiveMirror(predictor)
    for frame in (np.full((480, 640, 3), 128, np.uint8), frame_with(seed=3),
                  np.random.default_rng(1).integers(0, 256, (480, 640, 3), dtype=np.uint8)):
        shown = read(live, frame)
        assert live.reading.face is None and live.reading.probabilities is None
        assert say(live.reading, 0) == "No face found: look towards the camera."
        assert shown.shape == frame.shape
    live.stop()


def test_of_several_faces_the_largest_is_read(predictor, faces):
    frame = frame_with((faces[0], 20, 40, 110), (faces[1], 250, 120, 230), (faces[2], 520, 60, 100))
    live = LiveMirror(predictor)
    read(live, frame)
    assert iou(live.reading.face.box, (250, 120, 230, 230)) > 0.35  # YuNet frames some real faces tighter than their FER2013 square
    live.stop()


@pytest.mark.parametrize("degrees", [25, -25])
def test_tilted_faces_are_found_and_levelled(predictor, real_data_path, degrees):
    tilt_errors = []
    for face in findable(public_faces(real_data_path, 40), 6, side=200):
        canvas = noisy_canvas(640, 480)
        paste_turned(canvas, face, 200, 100, 220, degrees)
        live = LiveMirror(predictor)  # a video each: a face that changes in place is another test's
        read(live, cv2.cvtColor(canvas, cv2.COLOR_GRAY2BGR), readings=3)
        assert iou(live.reading.face.box, (200, 100, 220, 220)) > 0.35
        tilt_errors.append(live.reading.face.tilt + degrees)  # turned counter-clockwise: it leans the other way
        live.stop()
    assert np.median(np.abs(tilt_errors)) < 8, tilt_errors  # as find_faces: some faces' eyes are misplaced


def test_holding_the_target_above_the_level_keeps_the_best_frame(predictor, faces, monkeypatch):
    monkeypatch.setattr(mirror, "HOLD_SECONDS", 0.5)
    frame = frame_with((faces[0], 220, 100, 200))
    top = EMOTIONS[int(np.argmax(predictor.probabilities(
        find_near_faces(cv2.cvtColor(frame, cv2.COLOR_BGR2GRAY))[0].crop[None])[0]))]
    live = LiveMirror(predictor, target=top, level=0.99)  # out of reach: no hold
    read(live, frame, readings=5)
    assert live.goal.held is None and not live.goal.holding
    live.choose(top, 0.05)
    deadline = time.monotonic() + WAIT_S
    while live.goal.held is None and time.monotonic() < deadline:
        read(live, frame)
    held = live.goal.held
    assert held is not None and held.frame is frame and iou(held.face.box, live.reading.face.box) > 0.9
    assert np.argmax(held.probabilities) == EMOTIONS.index(top)
    live.choose(top, 0.05)  # the same choice keeps what was held
    assert live.goal.held is held
    live.try_again()
    assert live.goal.held is None
    live.stop()


def test_stopping_drops_the_frame_and_the_reading_process_ends_when_no_stream_is_left(faces, monkeypatch):
    monkeypatch.setattr(mirror, "LINGER_SECONDS", 1.0)
    others = set(multiprocessing.active_children())  # other tests' reading processes linger for a minute
    live = LiveMirror(Predictor.from_path(SHIPPED_MODEL))  # its own reader
    read(live, frame_with((faces[0], 220, 100, 200)))
    assert live.being_read
    (reading_process,) = set(multiprocessing.active_children()) - others
    assert lowest_priority(reading_process.pid)  # the server's pages come first
    live.stop()
    assert not live.being_read and live._waiting is None and live.goal is None
    deadline = time.monotonic() + WAIT_S
    while (live._reader._thread is not None or reading_process.is_alive()) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert live._reader._thread is None and not reading_process.is_alive()


def test_several_streams_are_each_read_with_their_own_face(predictor, faces):
    streams = [LiveMirror(predictor) for _ in range(3)]
    frames = [frame_with((face, 200, 100, 240), seed=n) for n, face in enumerate(faces[:3])]
    deadline, readings = time.monotonic() + WAIT_S, [set() for _ in streams]
    while any(len(seen) < 8 for seen in readings) and time.monotonic() < deadline:  # the meter settles
        for live, frame, seen in zip(streams, frames, readings):
            live.frame(frame)
            seen.add(live.reading.seq)
        time.sleep(0.01)
    for live, frame in zip(streams, frames):
        alone = find_near_faces(cv2.cvtColor(frame, cv2.COLOR_BGR2GRAY))[0]
        assert iou(live.reading.face.box, alone.box) > 0.8  # its own face
        np.testing.assert_allclose(live.reading.probabilities, settled(live, predictor), atol=0.02)  # its reading
        live.stop()


def test_a_mistyped_ice_server_setting_gets_one_sentence(monkeypatch):
    from streamlit.testing.v1 import AppTest

    monkeypatch.setenv("FER_ICE_SERVERS", "stun:stun.example.org")  # not JSON
    app = AppTest.from_file("../pages/mirror.py", default_timeout=60).run()
    assert not app.exception and len(app.error) == 1  # and no video component that could not connect
    assert app.error[0].value.startswith("Live video is not set up right: FER\\_ICE\\_SERVERS must be a JSON list")


def lowest_priority(thread_or_process: int) -> bool:
    """Whether Linux runs it only when nothing else wants the CPU (SCHED_IDLE), at the lowest nice too."""
    return (os.sched_getscheduler(thread_or_process) == os.SCHED_IDLE
            and os.getpriority(os.PRIO_PROCESS, thread_or_process) == 19)


def test_the_video_callback_and_aiortcs_decoders_run_at_the_lowest_priority(monkeypatch):
    import threading

    from ui import live_video

    monkeypatch.setattr(live_video, "_encoding_in_background", lambda: None)  # needs Streamlit's running loop
    decoder_done, seen = threading.Event(), {}
    decoder = threading.Thread(target=decoder_done.wait, name=live_video.DECODER_THREAD, daemon=True)
    decoder.start()
    callback = live_video.in_background(lambda frame: frame + 1)

    def stream_thread():
        seen["answer"] = callback(1)
        seen["lowest"] = lowest_priority(threading.get_native_id())

    caller = threading.Thread(target=stream_thread)
    caller.start()
    caller.join()
    assert seen == {"answer": 2, "lowest": True}
    assert lowest_priority(decoder.native_id)
    assert not lowest_priority(threading.get_native_id())  # the page's own thread is untouched
    decoder_done.set()
