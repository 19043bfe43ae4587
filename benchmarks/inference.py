"""CPU inference speed of a model through fercore's Predictor: faces/s at batch 64 and the median
latency of one face, after warm-up, and whether the app's budget holds (with the mirror reading:
at least 300 faces/s at batch 64, at most 10 ms for one face; the file at most 25 MB).

    .venv/bin/python -m benchmarks.inference [models/default.keras] [--repeats 50]
"""
import argparse
import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import numpy as np

from benchmarks.timing import cpu_description, median_seconds
from fercore.predict import Predictor


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("model", nargs="?", default="models/default.keras")
    parser.add_argument("--repeats", type=int, default=50)
    args = parser.parse_args()
    predictor = Predictor.from_path(args.model)
    faces = np.random.default_rng(0).integers(0, 256, (64, 48, 48), dtype=np.uint8)
    for batch in (faces, faces[:1]):  # compile both shapes outside the timing
        predictor.probabilities(batch)
    megabytes = os.path.getsize(args.model) / 1e6
    print(f"model {args.model}: {predictor.model.count_params():,} parameters, {megabytes:.1f} MB")
    print(f"on {cpu_description()}")
    speeds = {}
    for tta, reading in ((True, "with flip averaging, as the app reads faces"), (False, "one pass")):
        batch_time = median_seconds(lambda: predictor.probabilities(faces, tta=tta), args.repeats)
        single_time = median_seconds(lambda: predictor.probabilities(faces[:1], tta=tta), args.repeats * 4)
        speeds[tta] = (64 / batch_time, single_time * 1000)
        print(f"{reading}: batch 64 {64 / batch_time:.0f} faces/s ({batch_time * 1000:.1f} ms per batch), "
              f"single face {single_time * 1000:.2f} ms (medians)")
    per_second, one_face_ms = speeds[True]
    for target, met in ((">= 300 faces/s at batch 64", per_second >= 300), ("<= 10 ms for one face", one_face_ms <= 10),
                        ("file <= 25 MB", megabytes <= 25)):
        print(f"target {target} (mirror reading): {'met' if met else 'NOT met'}")


if __name__ == "__main__":
    main()
