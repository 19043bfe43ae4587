"""Shared by the benchmarks: the median wall time of repeated calls, and which CPU gave it."""
import os
import statistics
import time
from pathlib import Path


def median_seconds(work, runs: int) -> float:
    times = []
    for _ in range(runs):
        started = time.perf_counter()
        work()
        times.append(time.perf_counter() - started)
    return statistics.median(times)


def cpu_description() -> str:
    """e.g. "AMD EPYC, 2 cores, AVX2 (no AVX-512)". Speed figures compare only on the same kind of CPU:
    the shipped model read 346 faces/s on the machine issue 17 was measured on, 188 on a 2-core AVX2 EPYC."""
    info = Path("/proc/cpuinfo").read_text() if Path("/proc/cpuinfo").exists() else ""
    fields = {key.strip(): value.strip() for key, value in (line.split(":", 1) for line in info.splitlines()
                                                              if ":" in line)}
    name = fields.get("model name", "unknown CPU")
    flags = set(fields.get("flags", "").split())
    vector = "AVX-512" if "avx512f" in flags else "AVX2 (no AVX-512)" if "avx2" in flags else "no AVX2"
    return f"{name}, {os.cpu_count()} cores, {vector}"
