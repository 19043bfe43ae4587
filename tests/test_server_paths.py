"""Pages never show where files are on the server: messages name the data folder "the app's data folder" and
any other file by its name. The paths here are the tests' own absolute folders, as a server's would be."""
import pytest
from streamlit.testing.v1 import AppTest

from fercore.artifact import read_metadata
from fercore.data import locate_source
from fercore.errors import ArtifactError, DatasetError
from ui.text import plain_error, without_server_paths


def everything_shown(app) -> str:
    """The text of every element a page drew that carries text, as read (Markdown's escapes taken out)."""
    kinds = ("markdown", "caption", "info", "warning", "error", "success", "code", "expander")
    texts = [getattr(element, "value", None) or getattr(element, "label", "") for kind in kinds
             for element in app.get(kind)]
    return "\n".join(str(text) for text in texts).replace("\\", "").replace("\u2060", "")


@pytest.fixture
def missing(monkeypatch, tmp_path):
    """FER2013, the model and the trained models all looked for in absolute folders that hold nothing."""
    monkeypatch.setenv("FER_DATA", str(tmp_path / "srv" / "data" / "fer2013"))
    monkeypatch.setenv("FER_MODEL", str(tmp_path / "srv" / "models" / "ours.keras"))
    monkeypatch.setenv("FER_TRAINED_DIR", str(tmp_path / "srv" / "trained"))
    monkeypatch.setenv("FER_DB", str(tmp_path / "progress.sqlite3"))
    return tmp_path


def test_fercores_messages_lose_the_servers_folders_but_keep_file_names_addresses_and_project_paths(missing):
    with pytest.raises(ArtifactError) as no_model:
        read_metadata(missing / "srv" / "models" / "ours.keras")
    with pytest.raises(DatasetError) as no_data:
        locate_source()
    for error in (no_model.value, no_data.value):
        assert str(missing) in str(error) and str(missing) not in plain_error(error)
    assert "ours.keras" in without_server_paths(no_model.value)
    assert without_server_paths(no_data.value).startswith("FER2013 not usable at the app's data folder: ")
    kept = "Get it from https://www.kaggle.com/datasets/msambare/fer2013 or train models/default.keras, fold 1/5."
    assert without_server_paths(kept) == kept
    assert without_server_paths(f"Cannot read {missing}/srv/data/: denied.") == "Cannot read data: denied."


def test_a_visitor_told_that_fer2013_is_missing_is_not_shown_where_the_server_keeps_it(missing):
    app = AppTest.from_file("../pages/educator.py", default_timeout=60).run()
    assert not app.exception
    shown = everything_shown(app)
    assert "fercore looks in the app's data folder" in shown
    assert str(missing) not in shown


def test_a_missing_model_is_named_by_its_file_not_its_place_on_the_server(missing):
    app = AppTest.from_file("../pages/about.py", default_timeout=60).run()
    assert not app.exception
    shown = everything_shown(app)
    assert "No model file at ours.keras" in shown and str(missing) not in shown


def test_the_trained_models_list_shows_no_server_paths_in_errors_or_training_commands(missing):
    from fercore.artifact import save_artifact
    from fercore.model import build_model, hyperparameters

    trained = missing / "srv" / "trained"
    command = f"python -m fercore train --data {missing}/srv/data --out {trained}/run.keras"
    save_artifact(build_model(hyperparameters("seed", filters=8, dense_units=16)), trained / "run.keras",
                  {"training": {"command": command}})
    (trained / "broken.keras").write_bytes(b"not a model")  # and no card beside it
    app = AppTest.from_file("../pages/train.py", default_timeout=120).run()
    assert not app.exception
    shown = everything_shown(app)
    assert "python -m fercore train --data data --out run.keras" in shown
    assert "broken.keras has no broken.json beside it" in shown
    assert str(missing) not in shown
