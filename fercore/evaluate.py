"""Honest evaluation: accuracy, macro-F1, per-class precision/recall/F1 and the confusion matrix."""
from __future__ import annotations

import numpy as np
from sklearn.metrics import confusion_matrix, precision_recall_fscore_support

from fercore.artifact import write_metadata
from fercore.data import Split
from fercore.labels import EMOTIONS, NUM_CLASSES
from fercore.predict import Predictor


def report(labels: np.ndarray, predictions: np.ndarray) -> dict:
    """Metrics for true class indices vs predicted class indices."""
    classes = list(range(NUM_CLASSES))
    precision, recall, f1, support = precision_recall_fscore_support(
        labels, predictions, labels=classes, zero_division=0
    )
    return {
        "n": int(len(labels)),
        "accuracy": float(np.mean(labels == predictions)) if len(labels) else 0.0,
        "macro_f1": float(np.mean(f1)),
        "per_class": {
            name: {"precision": float(precision[i]), "recall": float(recall[i]), "f1": float(f1[i]),
                   "support": int(support[i])}
            for i, name in enumerate(EMOTIONS)
        },
        "confusion": confusion_matrix(labels, predictions, labels=classes).tolist(),
        "classes": list(EMOTIONS),
    }


def evaluate(predictor: Predictor, split: Split, tta: bool = True) -> dict:
    probs = predictor.probabilities(split.images, tta=tta)
    return report(split.labels, probs.argmax(axis=1)) | {"split": split.name, "tta": tta}


def evaluate_test_splits(predictor: Predictor, splits: dict[str, Split], tta: bool = True) -> dict:
    """PublicTest (where models are chosen) and PrivateTest (the headline), as a model's JSON keeps them."""
    return {name: evaluate(predictor, splits[name], tta) for name in ("public", "private")}


def record_evaluation(model_path, splits: dict[str, Split], tta: bool = True) -> dict:
    """Evaluate a saved model again and store the reports in its JSON, which its card and the About
    page show: e.g. for a model trained before fercore read faces with their mirror image."""
    predictor = Predictor.from_path(model_path)
    evaluation = evaluate_test_splits(predictor, splits, tta)
    write_metadata(model_path, predictor.metadata | {"evaluation": evaluation})
    return evaluation


def majority_rate(split: Split) -> float:
    """Accuracy of always answering the most common class: the floor any model must clear."""
    return float(split.class_counts().max() / max(len(split), 1))


def format_report(result: dict) -> str:
    """A plain-text report for the terminal."""
    names = [n[:8] for n in EMOTIONS]
    lines = [
        f"split: {result.get('split', '?')}  faces: {result['n']}  tta: {result.get('tta', False)}",
        f"accuracy: {result['accuracy']:.4f}   macro-F1: {result['macro_f1']:.4f}",
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
