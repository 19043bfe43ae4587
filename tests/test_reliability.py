"""Expected calibration error and the reliability table, on toy readings worked out by hand."""
import numpy as np
import pytest

from fercore.reliability import confidence_sentence, ece_of, expected_calibration_error, reliability


def readings(tops: list[tuple[float, int]]) -> np.ndarray:
    """One row per (top probability, answered class); the rest spread evenly over the other six."""
    rows = np.empty((len(tops), 7))
    for row, (top, answer) in zip(rows, tops):
        row[:] = (1 - top) / 6
        row[answer] = top
    return rows


def test_a_perfectly_calibrated_model_has_no_error():
    # 80% sure ten times and right eight times; 50% sure twice and right once
    probabilities = readings([(0.8, 0)] * 10 + [(0.5, 3)] * 2)
    labels = np.array([0] * 8 + [1] * 2 + [3, 4])
    assert expected_calibration_error(probabilities, labels) == pytest.approx(0.0)


def test_the_error_is_the_faces_weighted_gap_per_bin():
    # bin 87-93%: 0.9 sure, right 1 of 2 (gap 0.4); bin 53-60%: 0.55 sure, right 2 of 2 (gap 0.45)
    probabilities = readings([(0.9, 2), (0.9, 2), (0.55, 5), (0.55, 5)])
    labels = np.array([2, 6, 5, 5])
    assert expected_calibration_error(probabilities, labels) == pytest.approx((2 * 0.4 + 2 * 0.45) / 4)


def test_the_table_has_fifteen_equal_bins_and_counts_every_face():
    probabilities = readings([(0.9, 2), (0.9, 2), (0.55, 5), (1.0, 0)])
    table = reliability(probabilities, np.array([2, 6, 5, 0]))
    assert len(table) == 15 and table[0]["lower"] == 0 and table[-1]["upper"] == 1
    assert [r["count"] for r in table] == [0] * 8 + [1, 0, 0, 0, 0, 2, 1]
    assert table[13] == {"lower": 13 / 15, "upper": 14 / 15, "count": 2, "confidence": pytest.approx(0.9),
                         "accuracy": 0.5}
    assert table[0]["confidence"] is None and table[0]["accuracy"] is None  # empty: no rate to show
    assert ece_of(table) == pytest.approx(expected_calibration_error(probabilities, np.array([2, 6, 5, 0])))


def test_the_sentence_reads_the_ninety_percent_bin_and_is_absent_for_old_records():
    probabilities = readings([(0.9, 2)] * 4)
    labels = np.array([2, 2, 2, 0])
    table = reliability(probabilities, labels)
    report = {"n": 4, "ece": ece_of(table), "reliability": table}
    sentence = confidence_sentence(report)
    assert sentence.startswith("When the model says 90% sure, it is right about 75% of the time")
    assert "15.0 percentage points" in sentence and "0.150" in sentence
    assert confidence_sentence({"n": 4, "accuracy": 0.5}) is None
