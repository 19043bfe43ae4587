"""Shared by the benchmarks: the median wall time of repeated calls."""
import statistics
import time


def median_seconds(work, runs: int) -> float:
    times = []
    for _ in range(runs):
        started = time.perf_counter()
        work()
        times.append(time.perf_counter() - started)
    return statistics.median(times)
