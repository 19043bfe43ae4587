"""How far a model's confidence can be trusted: a reliability table (per confidence bin, how often the
top answer matched the label) and the expected calibration error (ECE) drawn from it.

Only numpy: the About page and the card read stored tables without loading TensorFlow.
"""
from __future__ import annotations

import numpy as np

CALIBRATION_BINS = 15  # equal-width confidence bins, as in Guo et al. (2017) and the target


def reliability(probabilities: np.ndarray, labels: np.ndarray, bins: int = CALIBRATION_BINS) -> list[dict]:
    """Per confidence bin (lower, upper]: the mean top-class probability, the share of those answers
    that match the label, and how many faces fell in it (empty bins keep None for both rates)."""
    probabilities, labels = np.asarray(probabilities), np.asarray(labels)
    confidence, correct = probabilities.max(axis=1), probabilities.argmax(axis=1) == labels
    # bin i holds i/bins < confidence <= (i+1)/bins; a confidence of exactly 0 joins the first bin
    index = np.clip(np.ceil(confidence * bins).astype(int) - 1, 0, bins - 1)
    rows = []
    for i in range(bins):
        inside = index == i
        count = int(inside.sum())
        rows.append({"lower": i / bins, "upper": (i + 1) / bins, "count": count,
                     "confidence": float(confidence[inside].mean()) if count else None,
                     "accuracy": float(correct[inside].mean()) if count else None})
    return rows


def expected_calibration_error(probabilities: np.ndarray, labels: np.ndarray, bins: int = CALIBRATION_BINS) -> float:
    """The faces-weighted mean gap between confidence and accuracy over the bins: 0 means that
    "80% sure" is right 80% of the time."""
    return ece_of(reliability(probabilities, labels, bins))


def ece_of(table: list[dict]) -> float:
    """ECE from a reliability table, so a stored table gives it without the probabilities."""
    total = sum(row["count"] for row in table)
    return float(sum(row["count"] * abs(row["accuracy"] - row["confidence"]) for row in table if row["count"])
                 / max(total, 1))


def accuracy_near(table: list[dict], confidence: float) -> dict | None:
    """The reliability row whose bin holds `confidence` (e.g. 0.9 for "90% sure"), if any face fell there."""
    row = next((r for r in table if r["lower"] < confidence <= r["upper"]), None)
    return row if row and row["count"] else None


def confidence_sentence(result: dict, confidence: float = 0.9) -> str | None:
    """The reliability diagram in words, for a reader who cannot see it (the card, the About page);
    None for a report measured before fercore kept a reliability table."""
    table = result.get("reliability")
    if not table or result.get("ece") is None:
        return None
    row = accuracy_near(table, confidence)
    said = (f"When the model says {confidence:.0%} sure, it is right about {row['accuracy']:.0%} of the time "
            f"({row['count']:,} faces it was {row['lower']:.0%}-{row['upper']:.0%} sure of). " if row else "")
    return (said + f"Across all {result['n']:,} faces, how sure it says it is and how often it is right differ by "
            f"{result['ece'] * 100:.1f} percentage points on average "
            f"(expected calibration error {result['ece']:.3f}, {len(table)} bins).")
