"""A trained model on disk: ``NAME.keras`` plus ``NAME.json`` beside it (class order, input,
training command and config, data fingerprint, library versions, evaluation), and
``NAME.readings.npz``: the model's readings of the FER2013 test faces, so the quiz starts without
running the network."""
from __future__ import annotations

import hashlib
import json
import os
import platform
from dataclasses import dataclass
from pathlib import Path

from fercore.errors import ArtifactError
from fercore.labels import EMOTIONS, FACE_SIZE

FORMAT = "fercore-model/1"
# Layer names every fercore model carries: fercore.explain reads the softmax layer (and the last
# convolution where a model has no 24x24 layer).
LAST_CONV = "last_conv"
OUTPUT_LAYER = "probabilities"
INPUT_SPEC = {
    "shape": [FACE_SIZE, FACE_SIZE, 1],
    "color": "grayscale",
    "values": "raw pixel values 0-255; the model rescales to 0-1 itself",
    "face_crop": "square face crop as in FER2013, resized to 48x48",
}


@dataclass
class Artifact:
    path: Path
    model: object  # keras.Model; typed loosely so this module imports without TensorFlow
    metadata: dict

    @property
    def name(self) -> str:
        return self.path.stem


def metadata_path(model_path: str | os.PathLike) -> Path:
    return Path(model_path).with_suffix(".json")


def readings_path(model_path: str | os.PathLike) -> Path:
    return Path(model_path).with_suffix(".readings.npz")


def file_digest(model_path: str | os.PathLike) -> str:
    """A short hash of the model file's bytes: what readings and caches are keyed by."""
    try:
        with open(model_path, "rb") as handle:
            return hashlib.file_digest(handle, "sha256").hexdigest()[:16]
    except OSError as exc:
        raise ArtifactError(f"No readable model file at {model_path} ({exc.strerror}).") from None


def save_readings(model_path: str | os.PathLike, data_fingerprint: str, probabilities) -> Path:
    """Store the model's probabilities (flip-averaged, as the app reads) for the test faces whose
    fingerprint is given; float16 is ample for a percentage and keeps the file about 100 KB."""
    import numpy as np

    target = readings_path(model_path)
    tmp = target.with_name(f"{target.stem}.tmp.npz")
    np.savez_compressed(tmp, probabilities=np.asarray(probabilities, np.float16), data=np.array(data_fingerprint),
                        model=np.array(file_digest(model_path)))
    os.replace(tmp, target)
    return target


def load_readings(model_path: str | os.PathLike, data_fingerprint: str):
    """The stored readings when they belong to this very model file and these faces, else None."""
    import numpy as np

    try:
        with np.load(readings_path(model_path), allow_pickle=False) as stored:
            if str(stored["data"]) != data_fingerprint or str(stored["model"]) != file_digest(model_path):
                return None
            return stored["probabilities"].astype(np.float32)
    except (OSError, KeyError, ValueError, ArtifactError):
        return None


def library_versions() -> dict:
    import importlib

    import keras
    import numpy

    backend = keras.backend.backend()  # tensorflow here; jax or torch where a GPU machine trains
    return {"python": platform.python_version(), backend: importlib.import_module(backend).__version__,
            "keras": keras.__version__, "numpy": numpy.__version__}


def save_artifact(model, path: str | os.PathLike, metadata: dict) -> Path:
    """Write the model and its JSON; both land atomically so a crash never leaves half a file."""
    path = Path(path)
    if path.suffix != ".keras":
        raise ArtifactError(f"Model files end in .keras: got {path}.")
    path.parent.mkdir(parents=True, exist_ok=True)
    full = {"format": FORMAT, "name": path.stem, "classes": list(EMOTIONS), "input": INPUT_SPEC,
            "versions": library_versions()} | metadata
    tmp = path.with_name(path.stem + ".tmp.keras")
    model.save(tmp)
    os.replace(tmp, path)
    write_metadata(path, full)
    return path


def commands_that_made(metadata: dict) -> list[str]:
    """The commands, in order, that produced a model: the models it started from, its training,
    then any calibration."""
    training = metadata.get("training", {})
    commands = [*training.get("started_from_commands", []), training.get("command") or "(command not recorded)"]
    if "calibration" in metadata:
        commands.append(metadata["calibration"]["command"])
    return commands


def write_metadata(model_path: str | os.PathLike, metadata: dict) -> None:
    target = metadata_path(model_path)
    tmp = target.with_name(target.stem + ".tmp.json")
    tmp.write_text(json.dumps(metadata, indent=2, default=_jsonable) + "\n")
    os.replace(tmp, target)


def read_metadata(model_path: str | os.PathLike) -> dict:
    """The JSON card, checked against this project's class order and input; no TensorFlow needed."""
    model_path = Path(model_path)
    if not model_path.is_file():
        raise ArtifactError(f"No model file at {model_path}. Train one with: python -m fercore train --out {model_path}")
    meta_file = metadata_path(model_path)
    try:
        metadata = json.loads(meta_file.read_text())
    except FileNotFoundError:
        raise ArtifactError(f"{model_path} has no {meta_file.name} beside it: fercore needs that card to know the "
                            f"class order and input. Re-save the model with fercore.") from None
    except (OSError, ValueError) as exc:
        raise ArtifactError(f"{meta_file} is not readable JSON ({exc}).") from None
    if not isinstance(metadata, dict) or metadata.get("classes") != list(EMOTIONS):
        raise ArtifactError(f"{model_path} was trained for classes {metadata.get('classes') if isinstance(metadata, dict) else '?'}, "
                            f"but fercore uses {list(EMOTIONS)}.")
    if metadata.get("input", {}).get("shape") != INPUT_SPEC["shape"]:
        raise ArtifactError(f"{model_path} expects input {metadata.get('input', {}).get('shape')}, "
                            f"fercore gives {INPUT_SPEC['shape']}.")
    return metadata


def load_artifact(path: str | os.PathLike) -> Artifact:
    """Load a model for inference; a missing, corrupt or mismatched file raises ArtifactError."""
    import keras

    path = Path(path)
    metadata = read_metadata(path)
    try:
        model = keras.models.load_model(path, compile=False)
    except Exception as exc:  # Keras raises many types for a damaged zip or config
        raise ArtifactError(f"{path} could not be loaded as a Keras model; the file may be damaged or from "
                            f"an incompatible Keras version ({type(exc).__name__}: {str(exc)[:200]}).") from None
    if tuple(model.input_shape[1:]) != tuple(INPUT_SPEC["shape"]) or model.output_shape[-1] != len(EMOTIONS):
        raise ArtifactError(f"{path} takes {model.input_shape[1:]} and gives {model.output_shape[-1]} scores; "
                            f"fercore needs {tuple(INPUT_SPEC['shape'])} -> {len(EMOTIONS)}.")
    return Artifact(path, model, metadata)


def _jsonable(value):
    if hasattr(value, "tolist"):
        return value.tolist()
    if hasattr(value, "item"):
        return value.item()
    return str(value)
