"""Photo-like test pictures for practice decks, made at test time from FER2013's test faces: each face
enlarged, tinted like skin and pasted onto a coloured background, saved as a JPEG carrying EXIF with a
description and a GPS position, as a phone's photo would. Never committed."""
from __future__ import annotations

import io
import zipfile

import cv2
import numpy as np
from PIL import Image

from fercore.faces import find_faces

SKIN = np.array([1.0, 0.82, 0.68])  # RGB gains: a gray face becomes a warm, clearly coloured one
SECRET = "Grandma Rose at Brighton beach"  # in each photo's EXIF: it must never reach the store


def labelled_faces(root, n: int, side: int = 200) -> list[tuple[str, np.ndarray]]:
    """(emotion, face) for the first n PublicTest faces by file name that YuNet finds alone at `side`."""
    chosen = []
    for path in sorted(root.glob("test/*/PublicTest_*.jpg"), key=lambda f: f.name):
        face = cv2.imread(str(path), cv2.IMREAD_GRAYSCALE)
        canvas = np.full((2 * side, 2 * side), 128, np.uint8)
        canvas[side // 2 : side // 2 + side, side // 2 : side // 2 + side] = cv2.resize(face, (side, side))
        if len(find_faces(canvas)[0]) == 1:
            chosen.append((path.parent.name, face))
        if len(chosen) == n:
            return chosen
    raise AssertionError(f"fewer than {n} findable faces under {root}")


def photo(faces: list[np.ndarray], width: int = 640, height: int = 480, side: int = 200, seed: int = 0) -> np.ndarray:
    """An RGB photo: a colour gradient with noise, the faces side by side along the middle."""
    rng = np.random.default_rng(seed)
    ramp = np.linspace(0, 1, width)[None, :, None]
    base = (1 - ramp) * np.array([60, 120, 200]) + ramp * np.array([200, 170, 90])  # sky blue to sand
    canvas = np.clip(base + rng.normal(0, 12, (height, width, 3)), 0, 255).astype(np.uint8)
    gap = (width - len(faces) * side) // (len(faces) + 1)
    for i, face in enumerate(faces):
        x, y = gap + i * (side + gap), (height - side) // 2
        enlarged = cv2.resize(face, (side, side), interpolation=cv2.INTER_CUBIC)[..., None] * SKIN
        canvas[y : y + side, x : x + side] = np.clip(enlarged, 0, 255).astype(np.uint8)
    return canvas


def jpeg_with_exif(rgb: np.ndarray) -> bytes:
    exif = Image.Exif()
    exif[0x010E] = SECRET  # ImageDescription
    exif[0x010F] = "PhoneMaker"  # Make
    gps = exif.get_ifd(0x8825)
    gps.update({1: "N", 2: (50.0, 49.0, 12.0), 3: "W", 4: (0.0, 8.0, 24.0)})
    out = io.BytesIO()
    Image.fromarray(rgb).save(out, "JPEG", quality=92, exif=exif)
    return out.getvalue()


def photos_zip(labelled: list[tuple[str, np.ndarray]], top: str = "train") -> bytes:
    """A zip in FER2013's Kaggle layout, <top>/<emotion>/<name>.jpg, of one photo per face."""
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as archive:
        for i, (emotion, face) in enumerate(labelled):
            archive.writestr(f"{top}/{emotion}/IMG_{i:04d}_rose.jpg", jpeg_with_exif(photo([face], seed=i)))
    return out.getvalue()
