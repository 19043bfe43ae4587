"""The upload page's work, measured on real FER2013 PublicTest faces pasted into generated photos:
(a) time from a ~2-megapixel JPEG's bytes to every face with probabilities and a heatmap;
(b) how many pasted faces the detector finds on busy canvases, by size, with false alarms;
(c) the same for faces tilted by 15 and 30 degrees, small and large, and for close-ups that fill
    a portrait photo;
(d) the model's accuracy on the detected crops against its accuracy on the same faces read
    directly, with and without levelling the eyes.

    .venv/bin/python -m benchmarks.upload [--data PATH] [--canvases 40] [--runs 15]
"""
import argparse
import io
import os
import time
from collections import defaultdict

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import cv2
import numpy as np
from PIL import Image

from benchmarks.timing import median_seconds
from fercore.data import Split, load_split
from fercore.faces import COARSE_SIDE, FINE_SIDE, SCORE, find_faces
from fercore.photo import analyse_photo
from fercore.predict import Predictor
from fercore.registry import SHIPPED_MODEL

PHOTO_SHAPE = (1224, 1632)  # 2 megapixels
PHOTO_FACES = (150, 200, 260)  # face sides in the timed photo
CANVAS = (1600, 1200)
FACES_PER_CANVAS = 10
RECALL_SIZES = (48, 64, 96, 144, 216)  # face sides in canvas pixels
TILT_SIZES = {"small": (48, 64), "large": (144, 216)}
TILTS = (0, 15, 30)  # degrees, turned either way at random
CLOSE_UP = (1632, 1224)  # a portrait photo (height, width)
CLOSE_UP_SIDE = 0.8  # of the photo's width


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


def paste(image: np.ndarray, face: np.ndarray, centre, side: int, degrees: float = 0) -> tuple:
    """The face resized to side and turned (counter-clockwise) about centre; returns the upright
    square it was cut from, (x, y, side, side), which is where a detector should frame it."""
    resized = cv2.resize(face, (side, side), interpolation=cv2.INTER_CUBIC)
    turn = cv2.getRotationMatrix2D((side / 2, side / 2), degrees, 1.0)
    turn[:, 2] += [centre[0] - side / 2, centre[1] - side / 2]
    size = (image.shape[1], image.shape[0])
    turned = cv2.warpAffine(resized, turn, size, flags=cv2.INTER_LINEAR)
    inside = cv2.warpAffine(np.full((side, side), 255, np.uint8), turn, size) > 127
    image[inside] = turned[inside]
    return centre[0] - side / 2, centre[1] - side / 2, side, side


def free_places(image: np.ndarray, sides, rng: np.random.Generator) -> list[tuple[int, int]]:
    """A centre for each face where its turned square stays in the image and clear of the others."""
    placed: list[tuple[int, int, float]] = []
    for side in sides:
        reach = side * 0.72  # half the diagonal: any turn stays inside
        for _ in range(500):
            x = int(rng.integers(reach, image.shape[1] - reach))
            y = int(rng.integers(reach, image.shape[0] - reach))
            if all(abs(x - px) > reach + pr + 10 or abs(y - py) > reach + pr + 10 for px, py, pr in placed):
                break
        placed.append((x, y, reach))
    return [(x, y) for x, y, _ in placed]


def intersection(a, b) -> float:
    """The area two (x, y, w, h) boxes share."""
    width = max(0, min(a[0] + a[2], b[0] + b[2]) - max(a[0], b[0]))
    height = max(0, min(a[1] + a[3], b[1] + b[3]) - max(a[1], b[1]))
    return width * height


def iou(a, b) -> float:
    inter = intersection(a, b)
    return inter / (a[2] * a[3] + b[2] * b[3] - inter)


def within(a, b) -> float:
    """The share of box a that lies inside box b."""
    return intersection(a, b) / (a[2] * a[3])


def load_predictor() -> tuple[Predictor, str]:
    if SHIPPED_MODEL.exists():
        return Predictor.from_path(SHIPPED_MODEL), f"shipped model {SHIPPED_MODEL.name}"
    import keras

    from fercore.model import build_model, hyperparameters

    keras.utils.set_random_seed(0)
    model = build_model(hyperparameters("default"))
    return Predictor(model), "untrained default-architecture model (no models/default.keras)"


def photo_timing(faces: np.ndarray, predictor: Predictor, which: str, runs: int) -> None:
    height, width = PHOTO_SHAPE
    print(f"(a) bytes -> faces + probabilities + heatmaps, {width}x{height} JPEG with 3 pasted faces, {which}:")
    rng = np.random.default_rng(1)
    backgrounds = {"busy background": scene(width, height, rng),
                   "plain noisy background": np.clip(rng.normal(128, 25, PHOTO_SHAPE), 0, 255).astype(np.uint8)}
    for name, gray in backgrounds.items():
        for face, side, x in zip(faces, PHOTO_FACES, (300, 800, 1300)):
            paste(gray, face, (x, 600), side)
        buffer = io.BytesIO()
        Image.fromarray(cv2.cvtColor(gray, cv2.COLOR_GRAY2RGB)).save(buffer, "JPEG", quality=90)
        raw = buffer.getvalue()
        for _ in range(3):  # warm-up: tf.function tracing, detector loading
            result = analyse_photo(raw, predictor)
        total = median_seconds(lambda: analyse_photo(raw, predictor), runs)
        detection = median_seconds(lambda: find_faces(gray), runs)
        print(f"    {name:<23}: median {total * 1000:4.0f} ms over {runs} runs, of which face detection "
              f"{detection * 1000:4.0f} ms; faces found: {len(result.faces)} of 3")


class Tally:
    """Pasted faces against what the detector returned, grouped by a label such as a size."""

    def __init__(self):
        self.found = defaultdict(list)
        self.overlaps, self.false_alarms, self.misframed, self.photos, self.seconds = [], 0, 0, 0, 0.0
        self.framing = []  # side of the framed box / side of the pasted face
        self.direct, self.crops, self.unlevelled, self.labels, self.tilts = [], [], [], [], []

    def add(self, gray, pasted: list[tuple], faces, labels, groups, tilts) -> None:
        started = time.perf_counter()
        found = find_faces(gray)[0]
        self.seconds += time.perf_counter() - started
        unlevelled = find_faces(gray, level=False)[0]
        self.photos += 1
        for square, face, label, group, tilt in zip(pasted, faces, labels, groups, tilts):
            scores = [iou(f.box, square) for f in found]
            hit = bool(scores) and max(scores) > 0.3
            self.found[group].append(hit)
            if hit:
                best = int(np.argmax(scores))
                self.overlaps.append(scores[best])
                self.framing.append(found[best].box[2] / square[2])
                self.direct.append(face)
                self.crops.append(found[best].crop)
                self.unlevelled.append(min(unlevelled, key=lambda f: -iou(f.box, square)).crop)
                self.labels.append(label)
                self.tilts.append(tilt)
        for f in found:
            if all(iou(f.box, square) <= 0.3 for square in pasted):
                inside_a_face = any(within(f.box, square) > 0.5 for square in pasted)
                self.misframed += inside_a_face
                self.false_alarms += not inside_a_face

    def recall(self, groups=None) -> float:
        hits = [hit for group, found in self.found.items() if groups is None or group in groups for hit in found]
        return float(np.mean(hits)) if hits else float("nan")

    def summary(self) -> str:
        quartiles = np.percentile(self.framing, [25, 75])
        return "\n    ".join([
            f"all sizes: {self.recall():.0%} of {sum(map(len, self.found.values()))}; detection "
            f"{self.seconds / self.photos * 1000:.0f} ms per photo",
            f"crop-box IoU with the pasted square, median {np.median(self.overlaps):.2f}; framed side / pasted "
            f"side, median {np.median(self.framing):.2f} (quartiles {quartiles[0]:.2f}-{quartiles[1]:.2f})",
            f"false alarms on the background {self.false_alarms / self.photos:.2f} per photo; boxes on a pasted "
            f"face framed too far off to count (IoU <= 0.3) {self.misframed / self.photos:.2f} per photo"])


def busy_canvases(public, count: int, rng: np.random.Generator, sides_for, tilts_for, group_of) -> Tally:
    tally, width, height, start = Tally(), *CANVAS, 0
    for _ in range(count):
        canvas = scene(width, height, rng)
        picked = slice(start, start + FACES_PER_CANVAS)
        start += FACES_PER_CANVAS
        sides, tilts = sides_for(rng), tilts_for(rng)
        turns = [t * rng.choice((-1, 1)) for t in tilts]
        pasted = [paste(canvas, face, centre, side, turn) for face, centre, side, turn
                  in zip(public.images[picked], free_places(canvas, sides, rng), sides, turns)]
        groups = [group_of(side, tilt) for side, tilt in zip(sides, tilts)]
        tally.add(canvas, pasted, public.images[picked], public.labels[picked], groups, tilts)
    return tally


def upright_recall(public, count: int) -> Tally:
    rng = np.random.default_rng(2)
    tally = busy_canvases(public, count, rng, lambda r: r.permutation(RECALL_SIZES * 2),
                          lambda r: [0] * FACES_PER_CANVAS, lambda side, tilt: side)
    print(f"(b) upright faces on {count} busy {CANVAS[0]}x{CANVAS[1]} canvases, {FACES_PER_CANVAS} each "
          f"(found: IoU > 0.3 with the pasted square):")
    for side in RECALL_SIZES:
        print(f"    {side:>4} px: {tally.recall([side]):.0%} of {len(tally.found[side])}")
    print(f"    {tally.summary()}")
    return tally


def tilted_recall(public, count: int) -> Tally:
    rng = np.random.default_rng(3)
    sides = [s for pair in TILT_SIZES.values() for s in pair]
    size_name = {side: name for name, pair in TILT_SIZES.items() for side in pair}
    tally = busy_canvases(public, count, rng, lambda r: r.choice(sides, FACES_PER_CANVAS),
                          lambda r: r.choice(TILTS, FACES_PER_CANVAS).tolist(),
                          lambda side, tilt: (size_name[side], tilt))
    print(f"(c) faces tilted 0, 15 or 30 degrees either way on {count} busy canvases; the same faces' "
          f"recall by tilt and size:")
    for tilt in TILTS:
        cells = [f"{name} ({low}-{high} px) {tally.recall([(name, tilt)]):.0%} of {len(tally.found[name, tilt])}"
                 for name, (low, high) in TILT_SIZES.items()]
        print(f"    {tilt:>2} degrees: " + ", ".join(cells))
    print(f"    {tally.summary()}")
    return tally


def close_ups(public, count: int) -> None:
    rng = np.random.default_rng(4)
    height, width = CLOSE_UP
    side = round(CLOSE_UP_SIDE * width)
    found = defaultdict(list)
    for index in range(count):
        tilt = TILTS[index % len(TILTS)]
        photo = scene(width, height, rng)
        square = paste(photo, public.images[index], (width // 2, height // 2), side, tilt * rng.choice((-1, 1)))
        found[tilt].append(any(iou(face.box, square) > 0.3 for face in find_faces(photo)[0]))
    print(f"    close-ups, one face of {side} px in a {width}x{height} photo: "
          + ", ".join(f"{tilt} degrees {np.mean(hits):.0%} of {len(hits)}" for tilt, hits in found.items()))


def accuracy(predictor: Predictor, tallies: list[Tally]) -> None:
    print("(d) the shipped model on the found faces: read directly (the original 48x48) against the "
          "detected crop, levelled and not:")
    for tilt in TILTS:
        rows = [(d, c, u, y) for t in tallies for d, c, u, y, k in
                zip(t.direct, t.crops, t.unlevelled, t.labels, t.tilts) if k == tilt]
        if not rows:
            continue
        direct, crops, unlevelled, labels = (np.stack(column) for column in zip(*rows))
        scores = [float(np.mean(predictor.probabilities(x).argmax(1) == labels)) for x in (direct, crops, unlevelled)]
        print(f"    {tilt:>2} degrees, {len(labels)} faces: directly {scores[0]:.1%}, levelled crop {scores[1]:.1%}, "
              f"crop without levelling {scores[2]:.1%}")


def shuffled(split: Split, seed: int) -> Split:
    """The split in a random order: on disk it is grouped by emotion."""
    order = np.random.default_rng(seed).permutation(len(split))
    return Split(split.name, split.images[order], split.labels[order], split.ids[order])


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--data", default=os.environ.get("FER_DATA"), help="FER2013 (default: $FER_DATA)")
    parser.add_argument("--canvases", type=int, default=40, help="busy canvases for each recall figure")
    parser.add_argument("--runs", type=int, default=15)
    args = parser.parse_args()
    public = load_split("public", args.data)
    predictor, which = load_predictor()
    print(f"YuNet, score {SCORE}: the photo up to {FINE_SIDE} px, plus a {COARSE_SIDE}-px bordered copy "
          f"turned 0 and +-30 degrees; {cv2.getNumThreads()} OpenCV threads")
    photo_timing(public.images[:3], predictor, which, args.runs)
    upright = upright_recall(shuffled(public, 0), args.canvases)
    tilted = tilted_recall(shuffled(public, 1), args.canvases)
    close_ups(shuffled(public, 2), args.canvases // 2 * 3)
    accuracy(predictor, [upright, tilted])


if __name__ == "__main__":
    main()
