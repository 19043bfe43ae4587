"""The app shell starts, links every page, and the About page works with and without a model."""
import keras
import pytest
from streamlit.testing.v1 import AppTest

from browser import app_server, wait_for_log

from fercore.artifact import save_artifact
from fercore.model import build_model, hyperparameters


def test_app_starts_on_the_home_page_with_a_way_into_each_page():
    app = AppTest.from_file("../navigation.py", default_timeout=60).run()
    assert not app.exception
    assert "Reading facial emotions" in app.title[0].value
    links = {link.proto.label for link in app.get("page_link")}
    assert len(links) == 6 and "Practise with the quiz" in links


def test_a_server_loads_the_model_as_it_starts_before_any_page_or_answer_needs_it(tmp_path):
    from ui.resources import MODEL_LOADED

    log = tmp_path / "streamlit.log"
    with app_server({"FER_DB": str(tmp_path / "progress.sqlite3"), "FER_E2E_LOG": str(log)}):
        wait_for_log(log, MODEL_LOADED, timeout=120)  # nobody has opened a page


def _about_page(monkeypatch, tmp_path, **private_extra):
    keras.utils.set_random_seed(0)
    model = build_model(hyperparameters("seed", filters=8, dense_units=16))
    report = {"accuracy": 0.5, "macro_f1": 0.4, "n": 7, "confusion": [[1 if i == j else 0 for j in range(7)]
              for i in range(7)], "per_class": {e: {"precision": 1, "recall": 1, "f1": 1} for e in
              ("angry", "disgust", "fear", "happy", "sad", "surprise", "neutral")}}
    path = save_artifact(model, tmp_path / "m.keras", {"arch": "seed", "evaluation": {"private": report | private_extra},
                                                        "training": {"command": "python -m fercore train"}})
    monkeypatch.setenv("FER_MODEL", str(path))
    return AppTest.from_file("../pages/about.py", default_timeout=60).run()


def test_about_shows_the_active_models_card(monkeypatch, tmp_path):
    app = _about_page(monkeypatch, tmp_path)
    assert not app.exception
    assert {m.label: m.value for m in app.metric}["PrivateTest accuracy"] == "50.0%"
    assert any("diagnosis" in md.value for md in app.markdown)
    assert any("does not show what the" in md.value for md in app.markdown)  # what the heatmap is not
    privacy = " ".join(md.value for md in app.markdown)
    assert "Practice decks** keep only face crops" in privacy and "only its owner token" in privacy
    assert not any("trust how sure" in h.value for h in app.subheader)  # recorded before calibration was measured


def test_about_shows_the_reliability_diagram_with_a_sentence_saying_what_it_shows(monkeypatch, tmp_path):
    table = [{"lower": i / 15, "upper": (i + 1) / 15, "count": 0, "confidence": None, "accuracy": None}
             for i in range(15)]
    table[13] |= {"count": 5, "confidence": 0.9, "accuracy": 0.8}
    table[8] |= {"count": 2, "confidence": 0.55, "accuracy": 0.5}
    app = _about_page(monkeypatch, tmp_path, ece=0.0857, reliability=table)
    assert not app.exception
    assert any("trust how sure" in h.value for h in app.subheader)
    assert len(app.get("plotly_chart")) == 3  # per emotion, confusion, reliability
    assert any(md.value.startswith("When the model says 90% sure, it is right about 80% of the time")
               for md in app.markdown)


def test_about_explains_a_missing_model(monkeypatch, tmp_path):
    monkeypatch.setenv("FER_MODEL", str(tmp_path / "gone.keras"))
    app = AppTest.from_file("../pages/about.py", default_timeout=60).run()
    assert not app.exception and "No model file" in app.warning[0].value


@pytest.mark.parametrize("page", ["home", "train", "educator"])
def test_pages_that_need_fer2013_offer_to_get_it_when_it_is_missing(page, monkeypatch, tmp_path):
    monkeypatch.setenv("FER_DATA", str(tmp_path / "nowhere"))
    app = AppTest.from_file(f"../pages/{page}.py", default_timeout=60).run()
    assert not app.exception
    assert [h.value for h in app.subheader][:1] == ["First, get the faces"]
    assert any("kaggle.com" in m.value for m in app.markdown)


def test_pages_with_fer2013_present_show_no_panel(folder_dataset, monkeypatch):
    monkeypatch.setenv("FER_DATA", str(folder_dataset[0]))
    app = AppTest.from_file("../pages/home.py", default_timeout=60).run()
    assert not app.exception and not app.subheader


def test_display_choices_change_the_page_and_come_back_with_the_nickname(monkeypatch, tmp_path):
    monkeypatch.setenv("FER_DB", str(tmp_path / "p.sqlite3"))
    app = AppTest.from_function(a_page_with_display_choices, default_timeout=60).run()
    assert not app.exception and "font-size" not in styles(app)  # all off by default,
    assert "@media (prefers-reduced-motion: reduce)" in styles(app)  # but a system's own setting is followed
    app.session_state["learner"] = "Zoë"
    app.run()
    app.toggle(key="display_larger_text").set_value(True).run()
    app.toggle(key="display_reduced_motion").set_value(True).run()
    assert "font-size: 125%" in styles(app) and "prefers-reduced-motion" not in styles(app)  # now for any system

    later = AppTest.from_function(a_page_with_display_choices, default_timeout=60)  # another day, browser
    later.session_state["learner"] = "Zoë"
    later.run()
    assert later.toggle(key="display_larger_text").value and not later.toggle(key="display_high_contrast").value
    assert "font-size: 125%" in styles(later) and "prefers-reduced-motion" not in styles(later)


def a_page_with_display_choices():
    """What navigation.py does before every page (AppTest reruns only the page of a navigation app)."""
    from ui.display import display_choices

    display_choices()


def styles(app) -> str:
    return " ".join(str(element.proto) for element in app.get("html"))


def test_the_readme_describes_every_page_a_person_can_open_and_reads_cleanly():
    from browser import PAGES, PROJECT_ROOT

    readme = (PROJECT_ROOT / "README.md").read_text()
    described = {line.split("|")[1].strip() for line in readme.splitlines() if line.startswith("| ")}
    assert set(PAGES) - {"Home"} <= described, set(PAGES) - {"Home"} - described
    assert not [line for line in readme.splitlines() if line.startswith(("<<<<<<<", "=======", ">>>>>>>"))]
