"""A model card (markdown plus confusion-matrix and reliability images) written from a model's JSON metadata."""
from __future__ import annotations

import os
from pathlib import Path

import cv2
import numpy as np

from fercore.artifact import commands_that_made, read_metadata
from fercore.reliability import confidence_sentence
from fercore.labels import EMOTIONS

# PrivateTest accuracy of installable peers, measured on the same files (from the project's issue tracker).
PEERS = [("fer (mini-Xception)", 0.584), ("face-api.js", 0.570), ("what-the-face", 0.521), ("facex", 0.413)]
BEST_PEER_MACRO_F1 = 0.54

LIMITS = """\
- **Noisy labels.** FER2013 was labelled in one pass; people agree with its labels only about 65% of
  the time, so no model's accuracy on it means "right about people" that often.
- **48x48 grayscale.** The model sees a tiny grayscale crop: no colour, little detail, no context,
  no movement.
- **Demographic skew.** FER2013 was gathered by web image search. Its faces are not balanced by age,
  gender or skin tone, and accuracy is likely lower for under-represented groups; this has not been
  measured here because the dataset carries no such annotations.
- **Posed versus spontaneous.** Many faces are posed or exaggerated; everyday expressions are subtler
  and are read less reliably.
- **Must not be used for** diagnosis (including of autism or any condition), hiring, surveillance,
  grading or discipline, or to judge what a person feels inside. An expression is not an inner state.
"""


def confusion_image(confusion: list[list[int]], path: str | os.PathLike, cell: int = 84) -> Path:
    """Row-normalised confusion matrix as a PNG, cividis colours, shares written in each cell."""
    counts = np.asarray(confusion, dtype=float)
    shares = counts / np.maximum(counts.sum(axis=1, keepdims=True), 1)
    n, margin = len(EMOTIONS), 110
    image = np.full((margin + n * cell + 40, margin + n * cell + 10, 3), 255, np.uint8)
    colours = cv2.applyColorMap((shares * 255).astype(np.uint8), cv2.COLORMAP_CIVIDIS)
    font = cv2.FONT_HERSHEY_SIMPLEX
    for row in range(n):
        for col in range(n):
            top, left = margin + row * cell, margin + col * cell
            image[top : top + cell, left : left + cell] = colours[row, col]
            ink = (0, 0, 0) if shares[row, col] > 0.55 else (255, 255, 255)
            cv2.putText(image, f"{shares[row, col]:.0%}", (left + 16, top + cell // 2 + 8), font, 0.6, ink, 1,
                        cv2.LINE_AA)
        cv2.putText(image, EMOTIONS[row], (6, margin + row * cell + cell // 2 + 6), font, 0.55, (0, 0, 0), 1,
                    cv2.LINE_AA)
        cv2.putText(image, EMOTIONS[row][:7], (margin + row * cell + 6, margin - 12), font, 0.5, (0, 0, 0), 1,
                    cv2.LINE_AA)
    cv2.putText(image, "rows: true emotion; columns: predicted", (margin, margin + n * cell + 28), font, 0.55,
                (0, 0, 0), 1, cv2.LINE_AA)
    cv2.imwrite(str(path), image)
    return Path(path)


def reliability_image(table: list[dict], path: str | os.PathLike, side: int = 420) -> Path:
    """Reliability diagram as a PNG: per confidence bin, the share of answers that matched the label,
    against the dashed diagonal where confidence and accuracy agree."""
    margin, font, black = 70, cv2.FONT_HERSHEY_SIMPLEX, (0, 0, 0)
    image = np.full((side + 2 * margin, side + margin + 30, 3), 255, np.uint8)

    def point(x: float, y: float) -> tuple[int, int]:  # (0, 0) bottom left of the plot
        return margin + round(x * side), margin + side - round(y * side)

    bar = tuple(int(c) for c in cv2.applyColorMap(np.uint8([[60]]), cv2.COLORMAP_CIVIDIS)[0, 0])
    for row in (r for r in table if r["count"]):
        cv2.rectangle(image, point(row["lower"], row["accuracy"]), point(row["upper"], 0), bar, cv2.FILLED)
        cv2.rectangle(image, point(row["lower"], row["accuracy"]), point(row["upper"], 0), (255, 255, 255), 1)
    for i in range(0, 40, 2):  # dashed diagonal: perfect calibration
        cv2.line(image, point(i / 40, i / 40), point((i + 1) / 40, (i + 1) / 40), (90, 90, 90), 2, cv2.LINE_AA)
    cv2.rectangle(image, point(0, 1), point(1, 0), black, 1)
    for tick in (0.0, 0.5, 1.0):
        x, y = point(tick, 0)
        cv2.putText(image, f"{tick:.0%}", (x - 16, y + 22), font, 0.5, black, 1, cv2.LINE_AA)
        x, y = point(0, tick)
        cv2.putText(image, f"{tick:.0%}", (x - 50, y + 5), font, 0.5, black, 1, cv2.LINE_AA)
    cv2.putText(image, "the model's confidence", (margin + side // 2 - 100, margin + side + 48), font, 0.55, black, 1,
                cv2.LINE_AA)
    cv2.putText(image, "share right (bars); dashed: confidence = accuracy", (10, margin - 20), font, 0.5, black, 1,
                cv2.LINE_AA)
    cv2.imwrite(str(path), image)
    return Path(path)


def write_card(model_path: str | os.PathLike, out: str | os.PathLike) -> Path:
    """Write `out` (markdown) and the PNGs beside it (confusion matrix; reliability diagram when the
    evaluation has one) for the model at model_path."""
    model_path, out = Path(model_path), Path(out)
    meta = read_metadata(model_path)
    private, public = meta["evaluation"]["private"], meta["evaluation"]["public"]
    picture = confusion_image(private["confusion"], out.parent / f"{model_path.stem}-confusion-private.png")
    diagram = (reliability_image(private["reliability"], out.parent / f"{model_path.stem}-reliability-private.png")
               if private.get("reliability") else None)
    out.write_text(_markdown(model_path, meta, private, public, picture.name,
                             _calibration_section(private, public, diagram)))
    return out


def _calibration_section(private: dict, public: dict, diagram: Path | None) -> str:
    """How far "N% sure" can be trusted; a model recorded before fercore measured it says how to add it."""
    if diagram is None or private.get("ece") is None:
        return ("\n## Confidence\n\nNot measured for this model yet: `python -m fercore evaluate MODEL.keras "
                "--record` adds the expected calibration error and a reliability diagram.\n")
    bins = "\n".join(f"| {r['lower']:.0%}-{r['upper']:.0%} | {r['count']} | {r['confidence']:.1%} | {r['accuracy']:.1%} |"
                     for r in private["reliability"] if r["count"])
    public_ece = f"{public['ece']:.3f}" if public.get("ece") is not None else "not measured"
    return f"""
## Confidence

Expected calibration error ({len(private['reliability'])} equal-width bins of the top emotion's probability):
**{private['ece']:.3f}** on PrivateTest, {public_ece} on PublicTest. {confidence_sentence(private)}

![Reliability diagram on PrivateTest: share of answers right against the model's confidence]({diagram.name})

| confidence | faces | mean confidence | share right |
| --- | --- | --- | --- |
{bins}
"""


def _calibration_note(meta: dict) -> str:
    calibration = meta.get("calibration")
    if not calibration:
        return ""
    offsets = ", ".join(f"{e} {o:+.2f}" for e, o in zip(EMOTIONS, calibration["offsets"]))
    return (f"\nThe last step adds one offset per emotion to the scores before the softmax, searched on PublicTest "
            f"so that every emotion's recall reaches {calibration['min_recall']:.2f} for the least loss of accuracy: "
            f"{offsets}.\n")


def _reading_note(report: dict) -> str:
    if not report.get("tta"):
        return ""
    return ("\nEach face is read twice, as it is and mirrored, and the two readings averaged: that is how the "
            "app reads faces, and the figures below are measured that way.\n")


def _markdown(model_path: Path, meta: dict, private: dict, public: dict, picture: str, confidence: str = "") -> str:
    training = meta.get("training", {})
    rows = "\n".join(
        f"| {e} | {private['per_class'][e]['precision']:.3f} | {private['per_class'][e]['recall']:.3f} | "
        f"{private['per_class'][e]['f1']:.3f} | {private['per_class'][e].get('support', '')} |" for e in EMOTIONS)
    peers = "\n".join(f"| {name} | {acc:.1%} |" for name, acc in PEERS)
    return f"""# Model card: `{model_path.name}`

`{meta.get('arch')}` architecture, {meta.get('parameters', 0):,} parameters, trained by fercore on
FER2013's Training split ({meta['data']['train_faces_used']:,} faces), best epoch chosen on PublicTest.
Input: {meta['input']['shape'][0]}x{meta['input']['shape'][1]} grayscale, {meta['input']['values']}.
Classes, in order: {', '.join(meta['classes'])}. Data fingerprint `{meta['data']['fingerprint']}`.

Reproduce (seeds fixed in each command's config; run in this order):

```
{chr(10).join(commands_that_made(meta))}
```
{_calibration_note(meta)}
Epochs run: {training.get('epochs_done', '?')}, best epoch: {training.get('best_epoch', '?')}.
Library versions: {', '.join(f'{k} {v}' for k, v in meta.get('versions', {}).items())}.

## Results
{_reading_note(private)}
| split | faces | accuracy | macro-F1 |
| --- | --- | --- | --- |
| **PrivateTest** (headline, never used for choices) | {private['n']} | **{private['accuracy']:.1%}** | {private['macro_f1']:.3f} |
| PublicTest (where epochs, runs and settings are chosen) | {public['n']} | {public['accuracy']:.1%} | {public['macro_f1']:.3f} |

Per emotion on PrivateTest:

| emotion | precision | recall | F1 | faces |
| --- | --- | --- | --- | --- |
{rows}

![Confusion matrix on PrivateTest]({picture})
{confidence}
## Compared with installable peers (PrivateTest accuracy, same files)

| model | accuracy |
| --- | --- |
| **this model** | **{private['accuracy']:.1%}** (macro-F1 {private['macro_f1']:.3f}) |
{peers}

The best peer's macro-F1 is {BEST_PEER_MACRO_F1}. Human agreement with FER2013's labels is about 65%; the
best published single network reaches about 73%.

## Limits

{LIMITS}"""
