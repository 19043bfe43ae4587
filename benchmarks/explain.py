"""How faithful the app's heatmaps are: deletion and insertion on PrivateTest faces, overall and per
emotion, against a fixed centre blob and random maps; ms per face; which face part the sentences
name first per emotion.

    .venv/bin/python -m benchmarks.explain [models/default.keras] [--faces 400] [--seed 0] [--data PATH]
                                           [--candidates]

Each face is read for the model's own top class (one pass, no mirror), as in issue 13. Its pixels are removed
(deletion: replaced by a blurred copy of the face) or restored (insertion: put back onto the
blurred copy) in the order the map ranks them, in 11 steps of 10%; the mean probability of that
class over the steps gives a curve whose area (trapezoid rule over [0, 1]) is the score. Deletion:
lower is better; insertion: higher is better. --candidates also scores the other maps tried (a few
minutes more). 400 faces take 3 to 5 minutes on 2 shared CPU cores.
"""
import argparse
import os
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import cv2
import numpy as np

from benchmarks.timing import median_seconds
from fercore import explain
from fercore.data import load_fer2013
from fercore.labels import EMOTIONS, FACE_SIZE
from fercore.predict import Predictor

STEPS = np.linspace(0, 1, 11)
APP_MAP = "sqrt Layer-CAM at block2b x 13-square occlusion, blurred 2 px, + 0.3 centre prior"
TARGET_DELETION, TARGET_INSERTION, TARGET_MS = 0.22, 0.58, 50.0


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("model", nargs="?", default="models/default.keras")
    parser.add_argument("--faces", type=int, default=400)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--data")
    parser.add_argument("--candidates", action="store_true", help="also score the other maps tried")
    args = parser.parse_args()
    predictor = Predictor.from_path(args.model)
    sample = load_fer2013(args.data, splits=("private",))["private"].sample(args.faces, args.seed)
    faces = sample.images.astype(np.float32)
    top = predictor.probabilities(faces, tta=False).argmax(axis=1)
    print(f"model {args.model}; {len(faces)} PrivateTest faces (seed {args.seed}), each for its top class; "
          f"blurred baseline sigma {explain.COVER_SIGMA:g} px; {len(STEPS)} steps")

    maps = {"app: " + APP_MAP: explain.heatmaps(predictor.model, faces, top),
            "centre blob, the same for every face (control)": centre_blob(len(faces)),
            "random pixels (control)": np.random.default_rng(args.seed + 1).random(faces.shape, np.float32)}
    scores = {name: deletion_insertion(predictor, faces, m, top, args.seed) for name, m in maps.items()}
    print_scores(scores, top)
    app, blob = list(scores.values())[:2]
    ms, cpu_ms = ms_per_face(predictor.model, faces)
    print(f"\napp map: {ms:.1f} ms per face, one face at a time (median after warm-up), {cpu_ms:.1f} CPU ms per "
          f"face over all threads; {os.cpu_count()} CPU cores, load average {os.getloadavg()[0]:.1f} when done")
    print_targets(app, blob, top, ms)
    print_parts(predictor.model, faces, top)
    if args.candidates:
        candidates = {name: deletion_insertion(predictor, faces, make(predictor.model, faces, top), top, args.seed)
                      for name, make in CANDIDATES.items()}
        print("\nCandidates (in brackets: gradient passes + forward passes per face; the app's map: 1+13)")
        print_scores(candidates, top, blob)


# --- the test -------------------------------------------------------------------------------------

def deletion_insertion(predictor, faces, maps, classes, seed) -> tuple[np.ndarray, np.ndarray]:
    """Per-face areas under the deletion and insertion curves. Ties in a map are broken at random."""
    n, size = len(faces), FACE_SIZE * FACE_SIZE
    ranking = -maps.reshape(n, size) - np.random.default_rng(seed).random((n, size)) * 1e-6
    rank = np.argsort(np.argsort(ranking, axis=1), axis=1)
    flat, base = faces.reshape(n, size), explain.covered(faces).reshape(n, size)
    deletion, insertion = [], []
    for chunk in np.array_split(np.arange(n), max(1, n // 100)):  # about 2,200 images at a time
        first = [rank[chunk] < round(step * size) for step in STEPS]
        images = [np.where(f, base[chunk], flat[chunk]) for f in first] + \
                 [np.where(f, flat[chunk], base[chunk]) for f in first]
        p = predictor.probabilities(np.stack(images, axis=1).reshape(-1, FACE_SIZE, FACE_SIZE), tta=False)
        p = p.reshape(len(chunk), 2 * len(STEPS), -1)[np.arange(len(chunk)), :, classes[chunk]]
        deletion.append(np.trapezoid(p[:, : len(STEPS)], STEPS, axis=1))
        insertion.append(np.trapezoid(p[:, len(STEPS) :], STEPS, axis=1))
    return np.concatenate(deletion), np.concatenate(insertion)


def centre_blob(n: int) -> np.ndarray:
    """The app's centre prior alone; any spread ranks pixels the same way, by distance from the centre."""
    return np.broadcast_to(explain.centre_prior(), (n, FACE_SIZE, FACE_SIZE))


def ms_per_face(model, faces, runs: int = 60) -> tuple[float, float]:
    """Median wall ms for one face's map, and this process's CPU ms per map (all threads): on a
    shared machine the wall time grows with others' load, the CPU time much less."""
    for face in faces[:5]:
        explain.heatmaps(model, face[None], 3)  # warm-up: the graph is traced on the first call
    cpu = time.process_time()
    wall = median_seconds(lambda: explain.heatmaps(model, faces[:1], 3), runs) * 1000
    return wall, (time.process_time() - cpu) * 1000 / runs


# --- printing -------------------------------------------------------------------------------------

def print_scores(scores: dict, classes: np.ndarray, blob=None) -> None:
    """Overall means; per emotion for the main table, or, given the blob's scores, on how many
    emotions each map beats it on both metrics."""
    width = max(map(len, scores)) + 2
    extra = "  beats the blob on" if blob is not None else ""
    print(f"\n{'map':<{width}}{'deletion':>9}{'insertion':>10}{extra}   (deletion lower, insertion higher is better)")
    for name, (deletion, insertion) in scores.items():
        beats = f"{len(beaten_emotions((deletion, insertion), blob, classes)):>9} of {len(np.unique(classes))}" if extra else ""
        print(f"{name:<{width}}{deletion.mean():>9.3f}{insertion.mean():>10.3f}{beats}")
    if blob is not None:
        return
    print("\nper emotion (the model's top class), deletion / insertion")
    print(f"{'emotion':<10}{'faces':>6}" + "".join(f"{name.split(',')[0].split(' (')[0][:22]:>24}" for name in scores))
    for k, emotion in enumerate(EMOTIONS):
        chosen = classes == k
        cells = "".join(f"{'-':>24}" if not chosen.any() else f"{d[chosen].mean():>15.3f} / {i[chosen].mean():.3f}"
                        for d, i in scores.values())
        print(f"{emotion:<10}{chosen.sum():>6}{cells}")


def beaten_emotions(scores, blob, classes) -> list[str]:
    """The emotions present on which scores beat the blob on both deletion and insertion."""
    (d, i), (bd, bi) = scores, blob
    return [EMOTIONS[k] for k in np.unique(classes) if d[classes == k].mean() < bd[classes == k].mean()
            and i[classes == k].mean() > bi[classes == k].mean()]


def print_targets(app, blob, classes, ms) -> None:
    d, i = app
    beaten = beaten_emotions(app, blob, classes)
    shown = [EMOTIONS[k] for k in np.unique(classes)]
    checks = [(f"deletion {d.mean():.3f} <= {TARGET_DELETION}", d.mean() <= TARGET_DELETION),
              (f"insertion {i.mean():.3f} >= {TARGET_INSERTION}", i.mean() >= TARGET_INSERTION),
              (f"better than the centre blob on both for {len(beaten)} of {len(shown)} emotions present"
               + (f" (not: {', '.join(sorted(set(shown) - set(beaten)))})" if len(beaten) < len(shown) else ""),
               len(beaten) == len(shown)),
              (f"{ms:.1f} ms per face <= {TARGET_MS:g}", ms <= TARGET_MS)]
    print("targets: " + "; ".join(f"{text}: {'met' if ok else 'MISSED'}" for text, ok in checks))


def print_parts(model, faces, classes) -> None:
    """Which part the sentence under the map names first (fercore.explain.say_evidence), per emotion."""
    named = []
    for face, k in zip(faces, classes):
        parts = explain.carrying_parts(explain.part_evidence(model, face, int(k)))
        named.append(parts[0].part if parts else "none")
    named, columns = np.array(named), [*explain.PARTS, "none"]
    print(f"\npart the sentence names first (covering it, blurred, lowers the class by at least "
          f"{explain.MATTERS:.0%}; none: no part does, and the sentence says so); FER2013 framing, mirror read")
    print(f"{'emotion':<10}{'faces':>6}" + "".join(f"{c:>20}" for c in columns))
    for k, emotion in [*enumerate(EMOTIONS), (None, "all")]:
        chosen = named if k is None else named[classes == k]
        print(f"{emotion:<10}{len(chosen):>6}" + "".join(f"{(chosen == c).sum():>20}" for c in columns))


# --- the candidates tried ---------------------------------------------------------------------------

class Gradients:
    """Activations and gradients of a class score at named layers (and the input), in batches."""

    def __init__(self, model, layers):
        import keras
        import tensorflow as tf

        head = model.get_layer("probabilities")
        self.layers = layers
        self.features = keras.Model(model.inputs, [model.get_layer(n).output for n in layers] + [head.input])
        self.kernel, self.bias = head.kernel, head.bias
        self.tf = tf

    def __call__(self, faces, classes, target="logprob", batch=100):
        out = []
        for start in range(0, len(faces), batch):
            out.append(self._batch(faces[start : start + batch, ..., None], classes[start : start + batch], target))
        return [tuple(np.concatenate(arrays) for arrays in zip(*parts)) for parts in zip(*out)]

    def _batch(self, x, classes, target):
        tf = self.tf
        x = tf.constant(x)
        with tf.GradientTape() as tape:
            tape.watch(x)
            *acts, features = self.features(x, training=False)
            logits = tf.matmul(features, self.kernel) + self.bias
            score = {"logit": logits, "prob": tf.nn.softmax(logits), "logprob": tf.nn.log_softmax(logits)}[target]
            chosen = tf.gather(score, tf.constant(classes, tf.int32), batch_dims=1)
        grads = tape.gradient(chosen, acts + [x])
        return [(a.numpy(), g.numpy()) for a, g in zip(acts + [x], grads)]


def _up(maps):
    return np.stack([cv2.resize(m, (FACE_SIZE, FACE_SIZE), interpolation=cv2.INTER_LINEAR) for m in maps])


def _blurred(maps, sigma):
    return np.stack([cv2.GaussianBlur(m, (0, 0), sigma) for m in maps]) if sigma else maps


def _norm(maps):
    maps = np.maximum(maps, 0)
    return explain._normalised(maps.astype(np.float32))


def cam(kind, layer, target="logprob", sigma=0.0):
    def make(model, faces, classes):
        (acts, grads), _ = Gradients(model, [layer])(faces, classes, target)
        raw = {"hirescam": (grads * acts).sum(-1), "gradcam": (grads.mean((1, 2), keepdims=True) * acts).sum(-1),
               "layercam": (np.maximum(grads, 0) * acts).sum(-1)}[kind]
        return _norm(_blurred(_norm(_up(np.maximum(raw, 0))), sigma))
    return make


def layercam_fused(layers, sigma=2.0):
    def make(model, faces, classes):
        pairs = Gradients(model, layers)(faces, classes)[:-1]
        maps = [_norm(_up((np.maximum(g, 0) * a).sum(-1))) for a, g in pairs]
        return _norm(_blurred(np.mean(maps, axis=0), sigma))
    return make


def occlusion(squares, layercam_power=0.0, sigma=2.0):
    """Squares (side, starts) covered by the blurred face; each pixel gets the mean drop of the
    squares over it, scaled to [0, 1], times Layer-CAM at block2b to the given power (0: none)."""
    masks = explain.occlusion_masks(squares)

    def make(model, faces, classes):
        predictor = Predictor(model)
        before = predictor.probabilities(faces, tta=False)[np.arange(len(faces)), classes]
        base = explain.covered(faces)
        drops = []
        for chunk in np.array_split(np.arange(len(faces)), max(1, len(faces) // 100)):
            x = faces[chunk, None] * (1 - masks) + base[chunk, None] * masks
            p = predictor.probabilities(x.reshape(-1, FACE_SIZE, FACE_SIZE), tta=False).reshape(len(chunk), len(masks), -1)
            drops.append(before[chunk, None] - p[np.arange(len(chunk)), :, classes[chunk]])
        spread = np.einsum("nk,khw->nhw", np.concatenate(drops), masks) / np.maximum(masks.sum(0), 1e-6)
        spread = _norm(spread - spread.min(axis=(1, 2), keepdims=True))
        if layercam_power:
            spread = spread * cam("layercam", "block2b")(model, faces, classes) ** layercam_power
        return _norm(_blurred(_norm(spread), sigma))
    return make


GRID9, BIG4 = (16, (0, 16, 32)), (32, (0, 16))
CANDIDATES = {
    "HiResCAM last_conv, logit (shipped before) (1+0)": cam("hirescam", "last_conv", "logit"),
    "Grad-CAM block2b, blurred 2 px (1+0)": cam("gradcam", "block2b", sigma=2),
    "Layer-CAM block2b, blurred 2 px (1+0)": cam("layercam", "block2b", sigma=2),
    "Layer-CAM mean of 1b, 2b, 3b, blurred 2 px (1+0)": layercam_fused(["block1b", "block2b", "block3b"]),
    "occlusion 3x3 + 2x2 (32 px), blurred 2 px (0+14)": occlusion([GRID9, BIG4]),
    "occlusion 3x3 x sqrt Layer-CAM, blurred 2 px (1+9)": occlusion([GRID9], 0.5),
    "occlusion 3x3 + 2x2 x sqrt Layer-CAM: app, no prior (1+13)": occlusion([GRID9, BIG4], 0.5),
}


if __name__ == "__main__":
    main()
