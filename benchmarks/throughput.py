"""Training throughput (images/s) for each architecture through the real input pipeline, and
FER2013 load time cold (decoding the source) and cached.

    .venv/bin/python -m benchmarks.throughput [--steps 40] [--data PATH]
"""
import argparse
import os
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import keras

from fercore.data import load_fer2013
from fercore.model import build_model, hyperparameters
from fercore.pipeline import FaceBatches, KeepFreedMemory, fit_input


def load_times(data):
    started = time.perf_counter()
    splits = load_fer2013(data, use_cache=False)
    cold = time.perf_counter() - started
    load_fer2013(data)  # make sure the cache exists
    started = time.perf_counter()
    load_fer2013(data)
    cached = time.perf_counter() - started
    faces = sum(len(s) for s in splits.values())
    print(f"load {faces} faces: cold {cold:.2f} s, cached {cached:.2f} s")
    return splits


def training_throughput(arch, train_split, steps, batch_size=64):
    keras.utils.set_random_seed(0)
    model = build_model(hyperparameters(arch))
    batches = fit_input(FaceBatches(train_split, batch_size, shuffle=True, augment=1.0))
    # compile outside the timing, and undo TensorFlow's malloc setting as fercore's training does
    model.fit(batches, steps_per_epoch=5, epochs=1, verbose=0, callbacks=[KeepFreedMemory()])
    started = time.perf_counter()
    model.fit(batches, steps_per_epoch=steps, epochs=1, verbose=0)
    rate = steps * batch_size / (time.perf_counter() - started)
    print(f"train {arch:<8} {model.count_params():>10,} params  {rate:7.0f} images/s  "
          f"(~{len(train_split) / rate / 60:.1f} min per Training epoch)")


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--steps", type=int, default=40)
    parser.add_argument("--data")
    args = parser.parse_args()
    splits = load_times(args.data)
    for arch in ("seed", "default"):
        training_throughput(arch, splits["train"], args.steps)


if __name__ == "__main__":
    main()
