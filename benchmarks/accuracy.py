"""Re-evaluate a shipped model on PublicTest and PrivateTest: accuracy, macro-F1, per-class recall,
with and without flip averaging (TTA).

    .venv/bin/python -m benchmarks.accuracy [models/default.keras] [--data PATH]
"""
import argparse
import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

from fercore.data import load_fer2013
from fercore.evaluate import evaluate, majority_rate
from fercore.labels import EMOTIONS
from fercore.predict import Predictor


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("model", nargs="?", default="models/default.keras")
    parser.add_argument("--data")
    args = parser.parse_args()
    predictor = Predictor.from_path(args.model)
    splits = load_fer2013(args.data)
    print(f"model {args.model} ({os.path.getsize(args.model) / 1e6:.1f} MB)")
    print(f"{'split':<9}{'tta':<5}{'accuracy':>9}{'macro-F1':>9}  recall: " + " ".join(f"{e[:7]:>7}" for e in EMOTIONS))
    for name in ("public", "private"):
        for tta in (False, True):
            r = evaluate(predictor, splits[name], tta=tta)
            recalls = " ".join(f"{r['per_class'][e]['recall']:>7.3f}" for e in EMOTIONS)
            print(f"{name:<9}{'yes' if tta else 'no':<5}{r['accuracy']:>9.4f}{r['macro_f1']:>9.4f}          {recalls}")
        print(f"{name:<9}majority-class rate {majority_rate(splits[name]):.4f}")


if __name__ == "__main__":
    main()
