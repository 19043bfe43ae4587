"""Knowledge distillation's teachers: several trained models' readings of the Training faces.

The readings are small (about 0.4 MB a model), so they are kept in the project: a student can be
trained from them later, on any machine, without the teachers themselves (which may be too large to
ship). Each reading is the model's mirror-averaged probabilities, as the app reads faces.

A model trained on a Training face reads it back as little more than its label. A teacher trained with
`--holdout K/N` therefore keeps its readings of fold K alone (the rest are NaN), and N such teachers
together give every face a reading by a model that never saw it.
"""
from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np

from fercore.data import Split, fold_of, holdout_fold
from fercore.errors import FercoreError
from fercore.labels import NUM_CLASSES

FORMAT = "fercore-teachers/1"
SPLITS_READ = ("train", "public")  # PublicTest to compare teachers; PrivateTest is never read here


def read_teachers(sources: list[str | os.PathLike], splits: dict[str, Split], command: str = "",
                  ten_crop: bool = False) -> dict:
    """Readings of every model in `sources` (.keras files, or earlier teacher files to merge);
    "commands" lists, in order, the commands that make them again, `command` (this one) last.
    `ten_crop`: the models (trained with --crop) read each face as ten crops (fercore.predict)."""
    readings = {"models": [], "commands": [], **{name: [] for name in SPLITS_READ}}
    for source in sources:
        part = load_teachers(source) if str(source).endswith(".npz") else _read_model(source, splits, ten_crop)
        readings["models"] += part["models"]
        readings["commands"] += part["commands"]
        for name in SPLITS_READ:
            readings[name].append(_aligned(part, name, splits[name], source))
    return {"models": readings["models"], "commands": list(dict.fromkeys([*readings["commands"], command])),
            **{name: np.concatenate(readings[name]) for name in SPLITS_READ},
            **{f"{name}_ids": splits[name].ids for name in SPLITS_READ}}


def _read_model(path, splits: dict[str, Split], ten_crop: bool = False) -> dict:
    from fercore.artifact import commands_that_made
    from fercore.predict import Predictor

    predictor = Predictor.from_path(path, ten_crop=ten_crop)
    model = {"name": Path(path).stem} | ({"reading": "ten-crop"} if ten_crop else {})
    part = {"models": [model], "commands": commands_that_made(predictor.metadata)}
    for name in SPLITS_READ:
        split = splits[name]
        read = _faces_to_read(predictor.metadata, split)
        part[name] = np.full((1, len(split), NUM_CLASSES), np.nan, np.float16)  # NaN: faces it trained on
        part[name][0, read] = predictor.probabilities(split.images[read])
        part[f"{name}_ids"] = split.ids
    return part


def _faces_to_read(metadata: dict, split: Split) -> np.ndarray:
    """Every face, except that a model trained with --holdout reads only its held-out fold of Training."""
    holdout = metadata.get("training", {}).get("config", {}).get("holdout")
    if split.name != "train" or not holdout:
        return np.ones(len(split), bool)
    fold, folds = holdout_fold(holdout)
    return fold_of(split.ids, folds) == fold


def _aligned(part: dict, name: str, split: Split, source) -> np.ndarray:
    """Rows of `part[name]` in the order of split.ids."""
    position = {face_id: i for i, face_id in enumerate(part[f"{name}_ids"])}
    missing = [face_id for face_id in split.ids if face_id not in position]
    if missing:
        raise FercoreError(f"{source} has no reading of {len(missing)} {name} faces (e.g. {missing[0]}): it was "
                           "made from a different copy of FER2013.")
    return part[name][:, [position[face_id] for face_id in split.ids]]


def save_teachers(path: str | os.PathLike, readings: dict) -> Path:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    arrays = {name: readings[name].astype(np.float16) for name in SPLITS_READ}
    arrays |= {f"{name}_ids": np.asarray(readings[f"{name}_ids"]).astype("S") for name in SPLITS_READ}
    tmp = path.with_name(path.stem + ".tmp.npz")
    about = {"models": readings["models"], "commands": readings["commands"]}
    np.savez_compressed(tmp, format=np.array(FORMAT), about=np.array(json.dumps(about)), **arrays)
    os.replace(tmp, path)
    return path


def load_teachers(path: str | os.PathLike) -> dict:
    try:
        with np.load(path, allow_pickle=False) as stored:
            if str(stored["format"]) != FORMAT:
                raise KeyError("format")
            readings = json.loads(str(stored["about"]))
            for name in SPLITS_READ:
                readings[name] = stored[name].astype(np.float32)
                readings[f"{name}_ids"] = stored[f"{name}_ids"].astype(str)
    except (OSError, KeyError, ValueError):
        raise FercoreError(f"{path} is not a teachers' readings file: make one with "
                           "python -m fercore teachers MODEL.keras ... --out FILE.npz") from None
    if readings["train"].ndim != 3 or readings["train"].shape[-1] != NUM_CLASSES:
        raise FercoreError(f"{path} holds readings of {readings['train'].shape[-1]} classes, not {NUM_CLASSES}.")
    return readings


def soft_targets(path: str | os.PathLike, split: Split) -> np.ndarray:
    """The teachers' averaged reading of each face of a Training split (or a sample of it), in its order;
    a held-out teacher's reading counts only for the faces it did not train on."""
    readings = _aligned(load_teachers(path), "train", split, path)
    unread = np.isnan(readings).all(axis=(0, 2))
    if unread.any():
        raise FercoreError(f"No teacher in {path} read {unread.sum()} of these Training faces without having "
                           f"trained on them (e.g. {split.ids[unread][0]}): add the teachers of the other folds.")
    return np.nanmean(readings, axis=0)


def public_accuracies(readings: dict, labels: np.ndarray) -> dict[str, float]:
    """Each teacher's PublicTest accuracy and their average reading's, keyed by name."""
    scores = {m["name"]: float(np.mean(r.argmax(1) == labels)) for m, r in zip(readings["models"], readings["public"])}
    return scores | {"all together": float(np.mean(readings["public"].mean(0).argmax(1) == labels))}
