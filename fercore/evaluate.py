"""Honest evaluation: accuracy, macro-F1, per-class precision/recall/F1, the confusion matrix, and how
far the model's confidence can be trusted (expected calibration error and a reliability table)."""
from __future__ import annotations

import numpy as np
from sklearn.metrics import confusion_matrix, precision_recall_fscore_support

from fercore.artifact import save_readings, write_metadata
from fercore.data import TEST_SPLITS, Split, fingerprint
from fercore.labels import EMOTIONS, NUM_CLASSES
from fercore.predict import Predictor
from fercore.reliability import ece_of, reliability


def report(labels: np.ndarray, predictions: np.ndarray) -> dict:
    """Metrics for true class indices vs predicted class indices."""
    classes = list(range(NUM_CLASSES))
    if len(labels):
        precision, recall, f1, support = precision_recall_fscore_support(
            labels, predictions, labels=classes, zero_division=0
        )
        confusion = confusion_matrix(labels, predictions, labels=classes)
    else:  # a split held back, e.g. PrivateTest kept off a machine that only trains
        precision = recall = f1 = support = np.zeros(NUM_CLASSES)
        confusion = np.zeros((NUM_CLASSES, NUM_CLASSES), int)
    return {
        "n": int(len(labels)),
        "accuracy": float(np.mean(labels == predictions)) if len(labels) else 0.0,
        "macro_f1": float(np.mean(f1)),
        "per_class": {
            name: {"precision": float(precision[i]), "recall": float(recall[i]), "f1": float(f1[i]),
                   "support": int(support[i])}
            for i, name in enumerate(EMOTIONS)
        },
        "confusion": confusion.tolist(),
        "classes": list(EMOTIONS),
    }


def evaluate(predictor: Predictor, split: Split, tta: bool = True) -> dict:
    return _report_of(split, predictor.probabilities(split.images, tta=tta), tta, _ten_crop(predictor, tta))


def evaluate_test_splits(predictor: Predictor, splits: dict[str, Split], tta: bool = True) -> dict:
    """PublicTest (where models are chosen) and PrivateTest (the headline), as a model's JSON keeps them."""
    return test_readings(predictor, splits, tta)[0]


def test_readings(predictor: Predictor, splits: dict[str, Split], tta: bool = True) -> tuple[dict, np.ndarray]:
    """(evaluate_test_splits' reports, the probabilities of every test face, PublicTest's first)."""
    probabilities = {name: predictor.probabilities(splits[name].images, tta=tta) for name in TEST_SPLITS}
    reports = {name: _report_of(splits[name], probabilities[name], tta, _ten_crop(predictor, tta))
               for name in TEST_SPLITS}
    return reports, np.concatenate([probabilities[name] for name in TEST_SPLITS])


def store_readings(model_path, splits: dict[str, Split], probabilities: np.ndarray) -> None:
    """Keep the test faces' readings beside the model, for a quiz that starts without the network."""
    save_readings(model_path, fingerprint({name: splits[name] for name in TEST_SPLITS}), probabilities)


def record_evaluation(model_path, splits: dict[str, Split], tta: bool = True, ten_crop: bool = False) -> dict:
    """Evaluate a saved model again and store the reports in its JSON, which its card and the About
    page show (e.g. for a model trained before fercore read faces with their mirror image), and, read
    as the app reads faces, its readings of the test faces beside it. With `ten_crop` (a model trained on
    crops), the ten-crop reports go to "evaluation_ten_crop" and the app's reading stays as it was."""
    predictor = Predictor.from_path(model_path, ten_crop=ten_crop)
    evaluation, probabilities = test_readings(predictor, splits, tta)
    if ten_crop:
        write_metadata(model_path, predictor.metadata | {"evaluation_ten_crop": evaluation})
        return evaluation
    # the data it was measured on (a model trained where PrivateTest was held back gains it here)
    data = predictor.metadata.get("data", {}) | {"fingerprint": fingerprint(splits),
                                                 "sizes": {name: len(split) for name, split in splits.items()}}
    write_metadata(model_path, predictor.metadata | {"evaluation": evaluation, "data": data})
    if tta:
        store_readings(model_path, splits, probabilities)
    return evaluation


def _report_of(split: Split, probabilities: np.ndarray, tta: bool, ten_crop: bool = False) -> dict:
    table = reliability(probabilities, split.labels)
    return report(split.labels, probabilities.argmax(axis=1)) | {"split": split.name, "tta": tta,
                                                                  "ece": ece_of(table), "reliability": table} | (
        {"ten_crop": True} if ten_crop else {})  # the key only where it is so: earlier reports stay the same


def _ten_crop(predictor, tta: bool) -> bool:
    return tta and predictor.ten_crop


def majority_rate(split: Split) -> float:
    """Accuracy of always answering the most common class: the floor any model must clear."""
    return float(split.class_counts().max() / max(len(split), 1))


def format_report(result: dict) -> str:
    """A plain-text report for the terminal."""
    names = [n[:8] for n in EMOTIONS]
    lines = [
        f"split: {result.get('split', '?')}  faces: {result['n']}  tta: {result.get('tta', False)}"
        + ("  ten-crop" if result.get("ten_crop") else ""),
        f"accuracy: {result['accuracy']:.4f}   macro-F1: {result['macro_f1']:.4f}" + _ece_text(result),
        "",
        f"{'class':<10}{'precision':>10}{'recall':>10}{'f1':>10}{'support':>10}",
    ]
    for name, m in result["per_class"].items():
        lines.append(f"{name:<10}{m['precision']:>10.3f}{m['recall']:>10.3f}{m['f1']:>10.3f}{m['support']:>10d}")
    lines += ["", "confusion matrix (rows = true class, columns = predicted):",
              " " * 10 + "".join(f"{n:>9}" for n in names)]
    for name, row in zip(names, result["confusion"]):
        lines.append(f"{name:<10}" + "".join(f"{v:>9d}" for v in row))
    return "\n".join(lines)


def _ece_text(result: dict) -> str:
    return (f"   ECE ({len(result['reliability'])} bins): {result['ece']:.4f}"
            if result.get("ece") is not None and result.get("reliability") else "")
