"""Chromium's fake camera filming real FER2013 faces: a Y4M video made from PublicTest faces enlarged onto a
noisy 640x480 frame, played in a loop. Shared by the Live mirror's tests and benchmarks/mirror.py."""
from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np

from fercore.faces import find_near_faces
from fercore.labels import EMOTIONS

FRAME = (640, 480)


def framed_faces(root: Path, predictor, emotion: str | None, n: int, skip: int = 0) -> list[np.ndarray]:
    """n gray 640x480 frames, each a PublicTest face (one of `emotion`, or any) that the model reads as
    its top emotion on that frame, so that a test checks reading, not the model's accuracy. [] if too few."""
    from test_faces import noisy_canvas, public_faces

    chosen = []
    for number, face in enumerate(public_faces(root, 600)):
        frame = noisy_canvas(*FRAME, seed=number)
        frame[120:360, 200:440] = cv2.resize(face, (240, 240), interpolation=cv2.INTER_CUBIC)
        found = find_near_faces(frame)
        if not found:
            continue
        top = EMOTIONS[int(predictor.probabilities(found[0].crop[None])[0].argmax())]
        if emotion in (None, top) and (skip := skip - 1) < 0:
            chosen.append(frame)
            if len(chosen) == n:
                break
    return chosen


def fake_camera_args(video: Path) -> list[str]:
    return ["--use-fake-device-for-media-stream", "--use-fake-ui-for-media-stream",
            f"--use-file-for-fake-video-capture={video}"]


def write_y4m(path: Path, frames: list[np.ndarray], repeat: int = 15) -> Path:
    """A YUV4MPEG2 video Chromium's fake camera plays in a loop: each grey frame shown `repeat` times."""
    with open(path, "wb") as out:
        out.write(f"YUV4MPEG2 W{FRAME[0]} H{FRAME[1]} F30:1 Ip A1:1 C420jpeg\n".encode())
        for frame in frames:
            planes = cv2.cvtColor(cv2.cvtColor(frame, cv2.COLOR_GRAY2BGR), cv2.COLOR_BGR2YUV_I420).tobytes()
            for _ in range(repeat):
                out.write(b"FRAME\n" + planes)
    return path


def moving_face(face: np.ndarray, frames: int = 90, seed: int = 0) -> list[np.ndarray]:
    """A face moving as people do in front of a camera, looped every `frames` frames: drifting, nearing and
    turning a little (the clip benchmarks/mirror.py measured the server stream on, at commit e339dd9)."""
    background = np.clip(np.random.default_rng(seed).normal(128, 25, FRAME[::-1]), 0, 255).astype(np.uint8)
    clip = []
    for n in range(frames):
        phase = 2 * np.pi * n / frames
        side = int(240 + 20 * np.sin(phase))
        centre = (320 + 30 * np.sin(phase), 240 + 15 * np.cos(phase))
        turn = cv2.getRotationMatrix2D((side / 2, side / 2), 8 * np.sin(2 * phase), 1.0)
        turn[:, 2] += (centre[0] - side / 2, centre[1] - side / 2)
        resized = cv2.resize(face, (side, side), interpolation=cv2.INTER_CUBIC)
        inside = cv2.warpAffine(np.full((side, side), 255, np.uint8), turn, FRAME) > 127
        gray = background.copy()
        gray[inside] = cv2.warpAffine(resized, turn, FRAME)[inside]
        clip.append(gray)
    return clip
