"""Quiz speed: building the quiz pool from the real FER2013 (cold, and with cached probabilities),
time per next_question, and progress-store throughput with concurrent writer threads and processes.

    .venv/bin/python -m benchmarks.quiz [--data PATH] [--questions 500] [--answers 100]
"""
import argparse
import multiprocessing
import os
import queue
import statistics
import tempfile
import threading
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import numpy as np

from fercore.data import load_fer2013
from fercore.quiz import build_pool, next_question, pool_probabilities, score
from fercore.registry import SHIPPED_MODEL
from fercore.store import Answer, Store

WARM_UP = 20


def model_file(workdir: Path) -> Path:
    if SHIPPED_MODEL.is_file():
        print(f"model: {SHIPPED_MODEL}")
        return SHIPPED_MODEL
    import keras

    from fercore.artifact import save_artifact
    from fercore.model import build_model, hyperparameters

    print(f"model: none at {SHIPPED_MODEL}, so a fresh untrained default-architecture model stands in")
    keras.utils.set_random_seed(0)
    return save_artifact(build_model(hyperparameters("default")), workdir / "fresh.keras", {})


def pool_times(data, workdir: Path):
    model = model_file(workdir)
    started = time.perf_counter()
    splits = load_fer2013(data)
    loaded = time.perf_counter() - started
    timings = []
    for _ in range(2):  # first cold (model load + inference), then from the probability cache
        started = time.perf_counter()
        pool = build_pool(splits, pool_probabilities(model, splits, workdir))
        timings.append(time.perf_counter() - started)
    print(f"quiz pool of {len(pool)} faces: data {loaded:.2f} s (data cache), then cold {timings[0]:.2f} s, "
          f"with cached probabilities {timings[1]:.3f} s")
    return pool


def question_times(pool, n: int) -> None:
    rng = np.random.default_rng(0)
    history, timings = [], []
    for i in range(WARM_UP + n):
        started = time.perf_counter()
        question = next_question(pool, history, level=1 + i % 4, rng=rng)
        timings.append(time.perf_counter() - started)
        history.append(score(question, str(rng.choice(question.choices))).answer)
    timings = sorted(timings[WARM_UP:])
    print(f"next_question over {n} questions: median {statistics.median(timings) * 1000:.2f} ms, "
          f"p95 {timings[int(0.95 * n)] * 1000:.2f} ms (target <= 100 ms)")


def write_answers(db_path, learner: str, n: int, ready, spans) -> None:
    store = Store(db_path)
    ready.wait(timeout=120)
    started = time.time()
    for i in range(n):
        store.record(learner, Answer(f"{learner}-{i}", i % 7, (i * 3) % 7, i % 7, 1 + i % 4))
    spans.put((started, time.time()))


def store_throughput(workdir: Path, kind: str, writers: int, n: int) -> None:
    db_path = workdir / f"{kind}.sqlite3"
    Store(db_path)
    if kind == "threads":
        ready, spans, start = threading.Barrier(writers), queue.Queue(), threading.Thread
    else:
        context = multiprocessing.get_context("spawn")
        ready, spans, start = context.Barrier(writers), context.Queue(), context.Process
    workers = [start(target=write_answers, args=(db_path, f"{kind}{w}", n, ready, spans)) for w in range(writers)]
    for worker in workers:
        worker.start()
    finished = [spans.get(timeout=300) for _ in workers]
    for worker in workers:
        worker.join()
    rate = writers * n / (max(end for _, end in finished) - min(begin for begin, _ in finished))
    store = Store(db_path)
    intact = all([a.face_id for a in store.answers(f"{kind}{w}")] == [f"{kind}{w}-{i}" for i in range(n)]
                 for w in range(writers))
    print(f"store, {writers} writer {kind}: {rate:.0f} answers/s; "
          f"{'all' if intact else 'NOT all'} {writers * n} answers stored, in order, none mixed")


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--data", help="FER2013 folder or CSV (default: FER_DATA, else data/fer2013)")
    parser.add_argument("--questions", type=int, default=500)
    parser.add_argument("--answers", type=int, default=100, help="answers per writer")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as workdir:
        workdir = Path(workdir)
        pool = pool_times(args.data, workdir)
        question_times(pool, args.questions)
        store_throughput(workdir, "threads", 8, args.answers)
        store_throughput(workdir, "processes", 4, args.answers)


if __name__ == "__main__":
    main()
