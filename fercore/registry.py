"""Which trained models exist in models/, and which one the app uses (the active model).

The choice is a small JSON file under data/ (ignored by git), so picking a freshly trained model
never overwrites the shipped models/default.keras. FER_MODEL overrides everything. Several app servers
follow one choice when FER_ACTIVE_MODEL_FILE and FER_TRAINED_DIR name the same shared paths on each
(docs/deploy.md): every page reads the file afresh.
"""
from __future__ import annotations

import json
import os
from pathlib import Path

from fercore.artifact import read_metadata
from fercore.data import PROJECT_ROOT
from fercore.errors import ArtifactError

MODELS_DIR = PROJECT_ROOT / "models"
SHIPPED_MODEL = MODELS_DIR / "default.keras"


def trained_dir() -> Path:
    """Where models trained from the app go (ignored by git); FER_TRAINED_DIR overrides."""
    return Path(os.environ.get("FER_TRAINED_DIR") or MODELS_DIR / "trained")


def _choice_file() -> Path:
    return Path(os.environ.get("FER_ACTIVE_MODEL_FILE") or PROJECT_ROOT / "data" / "active_model.json")


def active_model_path() -> Path:
    """FER_MODEL, else the model chosen in the app, else the shipped default."""
    if os.environ.get("FER_MODEL"):
        return Path(os.environ["FER_MODEL"])
    try:
        chosen = Path(json.loads(_choice_file().read_text())["path"])
        if chosen.is_file():
            return chosen
    except (OSError, ValueError, KeyError, TypeError):
        pass
    return SHIPPED_MODEL


def set_active_model(path: str | os.PathLike) -> None:
    read_metadata(path)  # refuse a missing or mismatched model before pointing the app at it
    target = _choice_file()
    target.parent.mkdir(parents=True, exist_ok=True)
    # Written beside it, then renamed over it: another server reading meanwhile sees the old or the new choice.
    written = target.with_name(f".{target.name}.{os.getpid()}.tmp")
    written.write_text(json.dumps({"path": str(Path(path).resolve())}))
    os.replace(written, target)


def list_models(directory: str | os.PathLike = MODELS_DIR) -> list[dict]:
    """Every usable model card in `directory` (newest first); broken ones are listed with their error."""
    rows = []
    for path in sorted(Path(directory).glob("*.keras"), key=lambda p: -p.stat().st_mtime):
        if path.name.endswith(".tmp.keras"):
            continue
        try:
            rows.append({"path": path, "name": path.stem, "card": read_metadata(path), "error": None})
        except ArtifactError as exc:
            rows.append({"path": path, "name": path.stem, "card": None, "error": str(exc)})
    return rows
