"""Re-evaluate a shipped model on PublicTest and PrivateTest: accuracy, macro-F1, expected calibration
error and per-class recall, with and without flip averaging (TTA); then whether PrivateTest, read as
the app reads faces, meets the targets of issue 17.

    .venv/bin/python -m benchmarks.accuracy [models/default.keras] [--data PATH]
"""
import argparse
import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

from fercore.data import load_fer2013
from fercore.evaluate import evaluate, majority_rate
from fercore.labels import EMOTIONS
from fercore.predict import Predictor

# (what, the figure from a PrivateTest report read with the mirror, the target, at least or at most)
TARGETS = [
    ("accuracy", lambda r: r["accuracy"], 0.725, "at least"),
    ("macro-F1", lambda r: r["macro_f1"], 0.72, "at least"),
    ("lowest recall", lambda r: min(m["recall"] for m in r["per_class"].values()), 0.50, "at least"),
    ("ECE (15 bins)", lambda r: r["ece"], 0.03, "at most"),
]


def target_lines(private_tta: dict) -> list[str]:
    """One line per target, 'met' or 'NOT met', for PrivateTest as the app reads it."""
    lines = []
    for what, figure, target, direction in TARGETS:
        value = figure(private_tta)
        met = value >= target if direction == "at least" else value <= target
        lines.append(f"  {what:<14} {value:.4f}  target {direction} {target}: {'met' if met else 'NOT met'}")
    return lines


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("model", nargs="?", default="models/default.keras")
    parser.add_argument("--data")
    args = parser.parse_args()
    predictor = Predictor.from_path(args.model)
    splits = load_fer2013(args.data)
    print(f"model {args.model} ({os.path.getsize(args.model) / 1e6:.1f} MB)")
    print(f"{'split':<9}{'tta':<5}{'accuracy':>9}{'macro-F1':>9}{'ECE':>8}  recall: "
          + " ".join(f"{e[:7]:>7}" for e in EMOTIONS))
    reports = {}
    for name in ("public", "private"):
        for tta in (False, True):
            r = reports[name, tta] = evaluate(predictor, splits[name], tta=tta)
            recalls = " ".join(f"{r['per_class'][e]['recall']:>7.3f}" for e in EMOTIONS)
            print(f"{name:<9}{'yes' if tta else 'no':<5}{r['accuracy']:>9.4f}{r['macro_f1']:>9.4f}{r['ece']:>8.4f}"
                  f"          {recalls}")
        print(f"{name:<9}majority-class rate {majority_rate(splits[name]):.4f}")
    print("targets (issue 17), PrivateTest read as the app reads faces (with the mirror):")
    print("\n".join(target_lines(reports["private", True])))


if __name__ == "__main__":
    main()
