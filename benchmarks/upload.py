"""The upload page's work, measured on real FER2013 faces pasted into generated photos:
(a) time from a ~2-megapixel JPEG's bytes to every face with probabilities and a heatmap;
(b) how many pasted faces the detector finds, by face size, and how well the crops line up.

    .venv/bin/python -m benchmarks.upload [--data PATH] [--faces 300] [--runs 15]
"""
import argparse
import io
import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import cv2
import numpy as np
from PIL import Image

from benchmarks.timing import median_seconds
from fercore.data import load_split
from fercore.faces import DETECT_SIDE, find_faces
from fercore.photo import analyse_photo
from fercore.predict import Predictor
from fercore.registry import SHIPPED_MODEL

PHOTO_SHAPE = (1224, 1632)  # 2 megapixels
PHOTO_FACES = (150, 200, 260)  # face sides in the timed photo
RECALL_CANVAS = (1600, 1200)
RECALL_SIZES = (48, 64, 96, 144, 216)  # face sides in canvas pixels


def scene(width: int, height: int, rng: np.random.Generator) -> np.ndarray:
    """A busy grayscale background: blotches at three scales plus lines and ellipses."""
    base = rng.normal(128, 20, (height, width))
    for cell in (8, 32, 128):
        blotches = rng.normal(0, 40, (height // cell + 2, width // cell + 2))
        base += cv2.resize(blotches, (width, height), interpolation=cv2.INTER_CUBIC)
    image = np.clip(base, 0, 255).astype(np.uint8)
    for _ in range(30):
        shade = int(rng.integers(0, 256))
        x1, x2 = rng.integers(0, width, 2).tolist()
        y1, y2 = rng.integers(0, height, 2).tolist()
        if rng.random() < 0.5:
            cv2.line(image, (x1, y1), (x2, y2), shade, int(rng.integers(1, 8)))
        else:
            axes = tuple(rng.integers(5, 80, 2).tolist())
            cv2.ellipse(image, (x1, y1), axes, float(rng.integers(0, 180)), 0, 360, shade, -1)
    return image


def paste(image: np.ndarray, faces: np.ndarray, sizes, rng: np.random.Generator) -> list[tuple]:
    """Paste each face, resized to its size, at a random free place; returns (x, y, side) each."""
    placed = []
    for face, side in zip(faces, sizes):
        for _ in range(200):
            x = int(rng.integers(0, image.shape[1] - side))
            y = int(rng.integers(0, image.shape[0] - side))
            if all(x > px + ps + 20 or px > x + side + 20 or y > py + ps + 20 or py > y + side + 20
                   for px, py, ps in placed):
                break
        image[y : y + side, x : x + side] = cv2.resize(face, (side, side), interpolation=cv2.INTER_CUBIC)
        placed.append((x, y, side))
    return placed


def iou(a, b) -> float:
    width = max(0, min(a[0] + a[2], b[0] + b[2]) - max(a[0], b[0]))
    height = max(0, min(a[1] + a[3], b[1] + b[3]) - max(a[1], b[1]))
    inter = width * height
    return inter / (a[2] * a[3] + b[2] * b[3] - inter)


def load_predictor() -> tuple[Predictor, str]:
    if SHIPPED_MODEL.exists():
        return Predictor.from_path(SHIPPED_MODEL), f"shipped model {SHIPPED_MODEL.name}"
    import keras

    from fercore.model import build_model, hyperparameters

    keras.utils.set_random_seed(0)
    model = build_model(hyperparameters("default"))
    return Predictor(model), "untrained default-architecture model (no models/default.keras)"


def findable(faces: np.ndarray, n: int = 3) -> np.ndarray:
    """The first n faces the detector finds alone at each size of the timed photo, so that every
    face in that photo is likely to be worked on."""
    chosen = []
    for face in faces:
        if all(find_faces(with_one_face(face, side))[0] for side in PHOTO_FACES):
            chosen.append(face)
        if len(chosen) == n:
            break
    return np.stack(chosen)


def with_one_face(face: np.ndarray, side: int) -> np.ndarray:
    canvas = plain_noise(PHOTO_SHAPE, np.random.default_rng(0))
    canvas[500 : 500 + side, 700 : 700 + side] = cv2.resize(face, (side, side), interpolation=cv2.INTER_CUBIC)
    return canvas


def plain_noise(shape, rng: np.random.Generator) -> np.ndarray:
    return np.clip(rng.normal(128, 25, shape), 0, 255).astype(np.uint8)


def photo_timing(faces: np.ndarray, runs: int) -> None:
    predictor, which = load_predictor()
    height, width = PHOTO_SHAPE
    print(f"(a) bytes -> faces + probabilities + heatmaps, {width}x{height} JPEG with 3 pasted faces, {which}:")
    rng = np.random.default_rng(1)
    backgrounds = {"busy background": scene(width, height, rng),
                   "plain noisy background": plain_noise(PHOTO_SHAPE, rng)}
    for name, gray in backgrounds.items():
        paste(gray, faces, PHOTO_FACES, np.random.default_rng(1))
        buffer = io.BytesIO()
        Image.fromarray(cv2.cvtColor(gray, cv2.COLOR_GRAY2RGB)).save(buffer, "JPEG", quality=90)
        raw = buffer.getvalue()
        for _ in range(3):  # warm-up: tf.function tracing, XLA compilation, cascade loading
            result = analyse_photo(raw, predictor)
        total = median_seconds(lambda: analyse_photo(raw, predictor), runs)
        detection = median_seconds(lambda: find_faces(gray), runs)
        print(f"    {name:<23}: median {total * 1000:4.0f} ms over {runs} runs, of which face detection "
              f"{detection * 1000:4.0f} ms; faces found: {len(result.faces)}")


def detector_recall(faces: np.ndarray, per_canvas: int = 5) -> None:
    rng = np.random.default_rng(2)
    width, height = RECALL_CANVAS
    found = {size: [] for size in RECALL_SIZES}
    overlaps, false_alarms, canvases = [], 0, 0
    for start in range(0, len(faces), per_canvas):
        canvas = scene(width, height, rng)
        sizes = rng.permutation(RECALL_SIZES)[: len(faces[start : start + per_canvas])]
        placed = paste(canvas, faces[start : start + per_canvas], sizes, rng)
        boxes = [face.box for face in find_faces(canvas)[0]]
        canvases += 1
        for x, y, side in placed:
            best = max((iou(box, (x, y, side, side)) for box in boxes), default=0.0)
            found[side].append(best > 0.3)
            if best > 0.3:
                overlaps.append(best)
        false_alarms += sum(all(iou(box, (x, y, s, s)) <= 0.3 for x, y, s in placed) for box in boxes)
    total = sum(len(hits) for hits in found.values())
    scale = DETECT_SIDE / width
    print(f"(b) detector recall on {total} real PublicTest faces pasted into {canvases} busy {width}x{height} "
          f"canvases (IoU > 0.3 with the pasted square):")
    for side, hits in found.items():
        print(f"    {side:>4} px ({side * scale:>4.0f} px on the {DETECT_SIDE}-px detection image): "
              f"{np.mean(hits):.0%} of {len(hits)}")
    print(f"    all sizes: {sum(map(sum, found.values())) / total:.0%}; crop-box IoU with the pasted square, "
          f"median {np.median(overlaps):.2f}; false alarms {false_alarms / canvases:.2f} per canvas")


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--data", default=os.environ.get("FER_DATA"), help="FER2013 (default: $FER_DATA)")
    parser.add_argument("--faces", type=int, default=300, help="PublicTest faces for the recall figure")
    parser.add_argument("--runs", type=int, default=15)
    args = parser.parse_args()
    public = load_split("public", args.data)
    photo_timing(findable(public.images), args.runs)
    detector_recall(public.sample(args.faces, seed=0).images)


if __name__ == "__main__":
    main()
