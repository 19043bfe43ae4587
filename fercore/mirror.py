"""The live mirror's work on a video stream: each frame's largest face found, levelled and read, and the
latest reading drawn on every frame, so that the video never waits for the model.

A LiveMirror belongs to one stream. `video(frame)` is the video callback and `frame(bgr)` its work: it
leaves the frame for reading (replacing one not yet read) and returns a copy with the latest reading drawn
on it. One reading thread per Predictor serves every stream in turn: each round takes the newest frame of
each stream and hands them to a reading process, which finds each face (followed from frame to frame:
fercore.faces.FaceFollower) and reads the faces of all streams in one call. That process runs at the lowest
CPU priority: reading takes the CPU the server's pages leave, so a learner who opens the quiz beside five
live mirrors is not kept waiting, and it holds no lock of the app's Python. Frames live in memory only
(they reach the reading process through a pipe): nothing here writes or logs them, and `stop()` drops the
last one.
"""
from __future__ import annotations

import logging
import multiprocessing
import threading
import time
import weakref
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass
from typing import TYPE_CHECKING

import av
import cv2
import numpy as np

from fercore.faces import Face, FaceFollower
from fercore.labels import EMOTIONS
from fercore.priority import lower_priority

if TYPE_CHECKING:  # fercore.predict loads TensorFlow; the caller brings the loaded Predictor
    from fercore.predict import Predictor

SMOOTHING = 0.5  # a new reading's share of the meter: calm, and within 1% of a still face after 7 readings
HOLD_SECONDS = 2.0
# The reading thread and its process end when no frame has come for this long: a learner who starts the
# camera again is read at once, without the process's start (seconds: TensorFlow and the model load again).
LINGER_SECONDS = 60.0
LIGHT, DARK = (255, 255, 255), (20, 20, 20)  # white on a dark edge, as the heatmap's outline: reads on any skin
FONT = cv2.FONT_HERSHEY_SIMPLEX


@dataclass(frozen=True)
class Reading:
    """What the model made of frame number `seq` of the stream."""
    seq: int
    face: Face | None = None  # the largest face; None when the frame had none
    probabilities: np.ndarray | None = None  # (7,) smoothed over the frames of a face, as the meter shows


@dataclass(frozen=True)
class Held:
    """The strongest frame of a hold: the whole frame (BGR), its face, and that frame's own reading."""
    frame: np.ndarray
    face: Face
    probabilities: np.ndarray

    def picture(self, target: int) -> np.ndarray:
        """The frame as the video showed it: the face outlined and this frame's own meter."""
        return draw(self.frame, Reading(1, self.face, self.probabilities), target)


class HoldGoal:
    """SmileMaze's goal: the target read at `level` or above for HOLD_SECONDS of readings in a row."""

    def __init__(self, target: int, level: float):
        self.target, self.level = target, level
        self.since: float | None = None  # when the current run at or above the level began
        self.best: Held | None = None  # the strongest frame of the current run
        self.held: Held | None = None  # the first run that lasted: kept until reset

    @property
    def holding(self) -> bool:
        return self.since is not None and self.held is None

    def update(self, frame: np.ndarray, face: Face | None, raw: np.ndarray | None, shown: np.ndarray | None,
               now: float) -> None:
        if self.held is not None:
            return
        if face is None or shown[self.target] < self.level:
            self.since, self.best = None, None
            return
        self.since = now if self.since is None else self.since
        if self.best is None or raw[self.target] > self.best.probabilities[self.target]:
            self.best = Held(frame, face, raw)
        if now - self.since >= HOLD_SECONDS:
            self.held = self.best


class LiveMirror:
    """One stream's reader. `choose` sets the target emotion and the goal's level (None: no goal); `calm`
    (reduced motion) moves the meter in steps of 10% instead of 1%."""

    def __init__(self, predictor: Predictor, target: str = "happy", level: float | None = None):
        self.predictor = predictor
        self.calm = False
        self.reading = Reading(0)
        self.goal: HoldGoal | None = None
        self.target = EMOTIONS.index(target)
        self._chosen: tuple[int, float | None] | None = None
        self._lock = threading.Lock()
        self._seq = 0
        self._waiting: tuple[int, np.ndarray] | None = None  # the newest frame not yet read
        self._faces = FaceFollower()  # the reading thread's alone; it travels to the reading process and back
        self._reader = _reader_for(predictor)
        self.choose(target, level)

    def choose(self, target: str, level: float | None) -> None:
        """A new target or level starts the goal afresh; the same ones keep it."""
        chosen = (EMOTIONS.index(target), level)
        with self._lock:
            if chosen != self._chosen:
                self._chosen, self.target = chosen, chosen[0]
                self.goal = HoldGoal(*chosen) if level is not None else None

    def try_again(self) -> None:
        """Forget the kept still and start the goal afresh."""
        with self._lock:
            if self.goal:
                self.goal = HoldGoal(self.goal.target, self.goal.level)

    def frame(self, bgr: np.ndarray) -> np.ndarray:
        """The video callback's work: the frame left for reading (replacing any not yet read) and a copy
        returned with the latest reading drawn on it."""
        with self._lock:
            self._seq += 1
            self._waiting = (self._seq, bgr)
            reading, target, goal = self.reading, self.target, self.goal
        self._reader.wake(self)
        return draw(bgr, reading, target, goal, step=0.1 if self.calm else 0.01)

    def video(self, frame: av.VideoFrame) -> av.VideoFrame:
        """`frame` on PyAV's video frames, as WebRTC carries them. The frame goes back in the encoder's YUV
        4:2:0, converted by OpenCV: a third of the time PyAV's own conversion takes (0.3 ms against 0.9)."""
        drawn = self.frame(frame.to_ndarray(format="bgr24"))
        return av.VideoFrame.from_ndarray(cv2.cvtColor(drawn, cv2.COLOR_BGR2YUV_I420), format="yuv420p")

    def stop(self) -> None:
        """The stream has ended: drop the frames kept for reading and for a hold in progress (a goal held
        stays), and leave the reading thread."""
        self._reader.leave(self)
        with self._lock:
            self._waiting = None
            if self.goal:
                self.goal.since, self.goal.best = None, None

    @property
    def frames(self) -> int:
        """Frames received so far; a reading's seq is one of these."""
        with self._lock:
            return self._seq

    @property
    def being_read(self) -> bool:
        """Whether the reading thread serves this stream (from its first frame until stop)."""
        return self._reader.serves(self)

    def _take(self) -> tuple[int, np.ndarray] | None:
        with self._lock:
            waiting, self._waiting = self._waiting, None
            return waiting

    def _read(self, seq: int, bgr: np.ndarray, face: Face | None, raw: np.ndarray | None) -> None:
        with self._lock:
            before = self.reading.probabilities
            shown = None if raw is None else raw if before is None else SMOOTHING * raw + (1 - SMOOTHING) * before
            self.reading = Reading(seq, face, shown)
            if self.goal:
                self.goal.update(bgr, face, raw, shown, time.monotonic())


class _Reader:
    """The one reading thread of a Predictor: rounds over the streams that have a frame waiting, each round
    read in one call of its reading process. One thread and one process, not one per stream: five streams'
    threads reading at once took both cores of a 2-core server and their videos fell to 6 frames/s, and
    the faces of a round are read in one call (small batches)."""

    def __init__(self, predictor: Predictor):
        if predictor.path is None:
            raise ValueError("the live mirror's reading process loads the model from its file: use "
                             "Predictor.from_path")
        self._model = (str(predictor.path), predictor.ten_crop)
        self._lock = threading.Condition()
        self._streams: dict[int, LiveMirror] = {}  # by id, in the order they came
        self._thread: threading.Thread | None = None

    def wake(self, stream: LiveMirror) -> None:
        with self._lock:
            self._streams.setdefault(id(stream), stream)
            if self._thread is None:
                self._thread = threading.Thread(target=self._work, name="fercore-mirror", daemon=True)
                self._thread.start()
            self._lock.notify()

    def leave(self, stream: LiveMirror) -> None:
        with self._lock:
            self._streams.pop(id(stream), None)

    def serves(self, stream: LiveMirror) -> bool:
        with self._lock:
            return id(stream) in self._streams

    def _work(self) -> None:
        process = _reading_process(*self._model)
        try:
            while True:
                with self._lock:
                    self._lock.wait_for(lambda: any(s._waiting for s in self._streams.values()), LINGER_SECONDS)
                    frames = [(stream, taken) for stream in list(self._streams.values()) if (taken := stream._take())]
                    if not frames:  # no frame for LINGER_SECONDS: every stream has stopped or gone
                        self._thread = None
                        self._streams.clear()
                        return
                process = self._round(process, frames)
        finally:
            process.shutdown(cancel_futures=True)

    def _round(self, process: ProcessPoolExecutor, frames: list[tuple[LiveMirror, tuple[int, np.ndarray]]]
               ) -> ProcessPoolExecutor:
        """The round's faces read, and the process for the next round: a new one if this one has died."""
        sent = [(stream._faces, cv2.cvtColor(bgr, cv2.COLOR_BGR2GRAY)) for stream, (_, bgr) in frames]
        try:
            results = process.submit(_read_faces, sent).result()
        except BrokenProcessPool as exc:  # killed (out of memory, say): these frames go unread, the next are read
            _log.warning("The live mirror's reading process stopped (%s); starting it again.", exc)
            time.sleep(1.0)  # not a tight loop of starts if it keeps failing
            return _reading_process(*self._model)
        for (stream, (seq, bgr)), (follower, face, raw) in zip(frames, results):
            stream._faces = follower
            stream._read(seq, bgr, face, raw)
        return process


_log = logging.getLogger(__name__)
_readers: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()  # Predictor -> its _Reader
_readers_lock = threading.Lock()


def _reader_for(predictor: Predictor) -> _Reader:
    with _readers_lock:
        if predictor not in _readers:
            _readers[predictor] = _Reader(predictor)
        return _readers[predictor]


def _reading_process(model_path: str, ten_crop: bool) -> ProcessPoolExecutor:
    # spawned, not forked: a fork of a process running TensorFlow's threads can hang
    return ProcessPoolExecutor(1, multiprocessing.get_context("spawn"), _start_reading, (model_path, ten_crop))


_process_predictor: Predictor | None = None  # in the reading process: its own copy of the model


def _start_reading(model_path: str, ten_crop: bool) -> None:
    """The reading process's start: the lowest CPU priority first, so that every thread it starts has it."""
    global _process_predictor
    lower_priority()
    from fercore.predict import Predictor

    _process_predictor = Predictor.from_path(model_path, ten_crop=ten_crop)


def _read_faces(frames: list[tuple[FaceFollower, np.ndarray]]
                ) -> list[tuple[FaceFollower, Face | None, np.ndarray | None]]:
    """In the reading process: each stream's face found in its gray frame by its follower, and all the
    faces read in one call. The followers go back, moved on, with each face and its reading."""
    faces = [follower.find(gray) for follower, gray in frames]
    crops = [face.crop for face in faces if face is not None]
    read = iter(_process_predictor.probabilities(np.stack(crops)) if crops else [])
    return [(follower, face, None if face is None else next(read)) for (follower, _), face in zip(frames, faces)]


def say(reading: Reading, target: int) -> str:
    """The meter in one sentence for a screen reader, in steps of 10% so it changes only when the reading does."""
    if reading.seq == 0:
        return "Waiting for the first reading."
    if reading.probabilities is None:
        return "No face found: look towards the camera."
    strength = round(float(reading.probabilities[target]) * 10) * 10
    top = int(np.argmax(reading.probabilities))
    said = f"The model reads {EMOTIONS[target]} at about {strength}%."
    if top != target:
        said += f" Its top reading is {EMOTIONS[top]} ({round(float(reading.probabilities[top]) * 100)}%)."
    return said


def draw(bgr: np.ndarray, reading: Reading, target: int, goal: HoldGoal | None = None,
         step: float = 0.01) -> np.ndarray:
    """A copy of the frame with the face outlined and the meter along its bottom: how strongly the model
    reads the target, as a bar and in words (and the top reading when it differs), in steps of `step`.
    No colour carries meaning: the words say it all."""
    out = bgr.copy()
    height, width = out.shape[:2]
    scale = height / 480
    thick = max(1, round(2 * scale))
    if reading.face is not None:
        x, y, w, h = reading.face.box
        cv2.rectangle(out, (x, y), (x + w, y + h), DARK, 3 * thick, cv2.LINE_AA)
        cv2.rectangle(out, (x, y), (x + w, y + h), LIGHT, thick, cv2.LINE_AA)
    panel_top = height - round(64 * scale)
    out[panel_top:] = (out[panel_top:] * 0.35).astype(np.uint8)  # dimmed, not hidden: calm behind the words
    left, line = round(12 * scale), round(24 * scale)
    words, bar = _meter_words(reading, target, goal, step)
    _text(out, words[0], (left, panel_top + line), scale, thick)
    if len(words) > 1:
        _text(out, words[1], (left, panel_top + 2 * line + round(6 * scale)), scale, thick)
    if bar is not None:
        _bar(out, bar, goal.level if goal else None, (width // 2, panel_top + round(10 * scale)),
             (width // 2 - left, round(16 * scale)), thick)
    return out


def _meter_words(reading: Reading, target: int, goal: HoldGoal | None, step: float) -> tuple[list[str], float | None]:
    name = EMOTIONS[target]
    if reading.seq == 0:
        return [f"{name}: starting"], None
    if reading.probabilities is None:
        return [f"{name}: no face found"], None
    strength = round(float(reading.probabilities[target]) / step) * step
    words = [f"{name}: {strength:.0%}"]
    top = int(np.argmax(reading.probabilities))
    if top != target:
        words.append(f"top reading: {EMOTIONS[top]} {reading.probabilities[top]:.0%}")
    elif goal and goal.held is not None:
        words.append("you held it")
    elif goal and goal.holding:
        words.append("holding")
    return words, strength


def _text(image: np.ndarray, words: str, origin: tuple[int, int], scale: float, thick: int) -> None:
    cv2.putText(image, words, origin, FONT, 0.7 * scale, DARK, 3 * thick, cv2.LINE_AA)
    cv2.putText(image, words, origin, FONT, 0.7 * scale, LIGHT, thick, cv2.LINE_AA)


def _bar(image: np.ndarray, share: float, level: float | None, corner: tuple[int, int], size: tuple[int, int],
         thick: int) -> None:
    """An outlined bar filled to `share`, with a notch at the goal's level."""
    (x, y), (w, h) = corner, size
    cv2.rectangle(image, (x, y), (x + round(w * min(share, 1.0)), y + h), LIGHT, -1)
    cv2.rectangle(image, (x, y), (x + w, y + h), LIGHT, thick)
    if level is not None:
        notch = x + round(w * level)
        cv2.line(image, (notch, y - 2 * thick), (notch, y + h + 2 * thick), DARK, 3 * thick)
        cv2.line(image, (notch, y - 2 * thick), (notch, y + h + 2 * thick), LIGHT, thick)
