"""The shared charts: series drawn side by side never differ by colour alone (WCAG 1.4.1)."""
import pytest

from fercore.evaluate import report
from fercore.labels import EMOTIONS
from fercore.store import Tally
from ui import charts


def key_besides_colour(trace) -> tuple:
    """What tells a series apart for someone who cannot tell its colour: hatching, dash, width, marks."""
    if trace.type == "bar":
        return "bar", trace.marker.pattern.shape or ""
    return "line", trace.mode, trace.line.dash, trace.line.width


def two_epochs():
    return [{"loss": 1.8, "val_loss": 1.7, "accuracy": 0.3, "val_accuracy": 0.33},
            {"loss": 1.6, "val_loss": 1.6, "accuracy": 0.4, "val_accuracy": 0.38}]


def answers():
    return {emotion: Tally(answered=5, correct=3, model_correct=4) for emotion in EMOTIONS}


@pytest.mark.parametrize("figure", [
    lambda: charts.per_class_bars(report([0, 1, 2, 3, 4, 5, 6], [0, 1, 2, 3, 4, 6, 6])),
    lambda: charts.tally_bars(answers(), "Your answers, per emotion"),
    lambda: charts.progress_trends({e: ([1, 2], [0.5, 0.6]) for e in [*EMOTIONS, "all emotions"]}, 10),
], ids=["per-class bars", "learners and model", "progress trends"])
def test_each_series_has_its_own_pattern_or_dash_as_well_as_its_colour(figure):
    keys = [key_besides_colour(trace) for trace in figure().data]
    assert len(keys) > 1 and len(set(keys)) == len(keys), keys


def test_training_and_publictest_curves_differ_by_dash():
    loss_training, loss_public = charts.training_curves(two_epochs()).data[:2]
    assert key_besides_colour(loss_training) != key_besides_colour(loss_public)


def test_an_emotion_answered_once_is_drawn_as_a_visible_point():
    # Plotly's lines-only mode draws nothing for a single point: the emotion would be in the legend only.
    figure = charts.progress_trends({"fear": ([3], [1.0]), "all emotions": ([1, 2, 3], [0.0, 0.5, 0.67])}, 10)
    fear = next(trace for trace in figure.data if trace.name == "fear")
    assert "markers" in fear.mode


@pytest.mark.parametrize("answered", [2, 3, 7, 40, 413])
def test_the_answers_so_far_axis_ticks_only_whole_answers(answered):
    xs = list(range(1, answered + 1))
    axis = charts.progress_trends({"all emotions": (xs, [0.5] * answered)}, 10).layout.xaxis
    assert axis.tickmode in (None, "linear") and axis.tick0 == 0  # "auto" would ignore dtick
    assert isinstance(axis.dtick, int) and axis.dtick >= 1  # never 0.5 or 1.5 answers
    assert answered / axis.dtick <= 10  # and not a tick for each of hundreds of answers
