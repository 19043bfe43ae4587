"""Plotly figures the pages share. Colour scales are colour-blind safe (cividis); nothing relies on
red versus green, and series side by side differ in pattern or dash as well as colour."""
from __future__ import annotations

import plotly.graph_objects as go
from plotly.subplots import make_subplots

from fercore.labels import EMOTIONS

MUTED = ["#4C72B0", "#DD8452", "#55A868", "#8172B3", "#937860", "#DA8BC3", "#8C8C8C"]
DASHES = ["dot", "dash", "longdash", "dashdot", "longdashdot", "6px,3px,2px,3px", "2px,6px"]
SYMBOLS = ["square", "diamond", "triangle-up", "cross", "x", "star", "triangle-down"]  # a lone point has no dash
# Bar series side by side: each its own hatching over its colour, so colour is never the only key.
PATTERNS = ["", "/", "."]
LAYOUT = dict(margin=dict(l=10, r=10, t=40, b=10), paper_bgcolor="rgba(0,0,0,0)", font=dict(size=14))


def probability_bars(probabilities, title: str = "How the model reads this face") -> go.Figure:
    order = sorted(range(len(EMOTIONS)), key=lambda i: probabilities[i])
    fig = go.Figure(go.Bar(
        x=[float(probabilities[i]) for i in order], y=[EMOTIONS[i] for i in order], orientation="h",
        marker_color=["#4C72B0" if i == order[-1] else "#A9B8D0" for i in order],
        text=[f"{probabilities[i]:.0%}" for i in order], textposition="outside",
    ))
    fig.update_layout(title=title, xaxis=dict(range=[0, 1.15], tickformat=".0%"), height=300, **LAYOUT)
    return fig


def confusion_heatmap(confusion, title: str = "Confusion matrix", classes=EMOTIONS) -> go.Figure:
    """Rows are true classes, shown as the share of each row, with the counts on hover."""
    shares = [[v / max(sum(row), 1) for v in row] for row in confusion]
    fig = go.Figure(go.Heatmap(
        z=shares, x=list(classes), y=list(classes), colorscale="Cividis", zmin=0, zmax=1,
        text=[[f"{s:.0%}" for s in row] for row in shares], texttemplate="%{text}",
        customdata=confusion, hovertemplate="true %{y}, read as %{x}: %{customdata} (%{text})<extra></extra>",
        colorbar=dict(tickformat=".0%"),
    ))
    fig.update_layout(title=title, xaxis_title="predicted", yaxis_title="true", yaxis_autorange="reversed",
                      height=420, **LAYOUT)
    return fig


def per_class_bars(report: dict, title: str = "Per-class results") -> go.Figure:
    fig = go.Figure()
    for metric, colour, pattern in zip(("precision", "recall", "f1"), (MUTED[0], MUTED[1], MUTED[3]), PATTERNS):
        fig.add_bar(name=metric, x=list(report["per_class"]), y=[m[metric] for m in report["per_class"].values()],
                    marker=dict(color=colour, pattern=dict(shape=pattern, fillmode="overlay")))
    fig.update_layout(title=title, barmode="group", yaxis=dict(range=[0, 1], tickformat=".0%"), height=340,
                      **LAYOUT)
    return fig


def training_curves(epochs: list[dict]) -> go.Figure:
    """Loss and accuracy per epoch, on Training (augmented) and PublicTest."""
    fig = make_subplots(rows=1, cols=2, subplot_titles=("loss", "accuracy"))
    x = list(range(1, len(epochs) + 1))
    for col, key in ((1, "loss"), (2, "accuracy")):
        fig.add_scatter(x=x, y=[e.get(key) for e in epochs], name=f"training {key}", mode="lines+markers",
                        line=dict(color=MUTED[0]), row=1, col=col)
        fig.add_scatter(x=x, y=[e.get(f"val_{key}") for e in epochs], name=f"PublicTest {key}",
                        mode="lines+markers", line=dict(color=MUTED[1], dash="dash"), row=1, col=col)
    fig.update_xaxes(title_text="epoch")
    fig.update_yaxes(tickformat=".0%", row=1, col=2)
    fig.update_layout(height=340, legend=dict(orientation="h", y=-0.25), **LAYOUT)
    return fig


def best_so_far(trials: list[dict]) -> go.Figure:
    """Hyperband: each finished trial's PublicTest accuracy and the best so far."""
    scores = [t["score"] for t in trials if t.get("score") is not None]
    best = [max(scores[: i + 1]) for i in range(len(scores))]
    fig = go.Figure()
    fig.add_scatter(x=list(range(1, len(scores) + 1)), y=scores, mode="markers", name="trial",
                    marker=dict(color=MUTED[6]))
    fig.add_scatter(x=list(range(1, len(best) + 1)), y=best, mode="lines", name="best so far",
                    line=dict(color=MUTED[0], shape="hv"))
    fig.update_layout(title="PublicTest accuracy by trial", xaxis_title="finished trial",
                      yaxis=dict(tickformat=".0%"), height=320, **LAYOUT)
    return fig


def progress_trends(lines: dict, window: int, whose: str = "your") -> go.Figure:
    """Smoothed share of answers matching the label, per emotion and overall, against answers so far.
    Every line has its own dash pattern as well as its colour, so colour is never the only key."""
    fig = go.Figure()
    styles = {emotion: dict(color=colour, dash=dash, width=2)
              for colour, dash, emotion in zip(MUTED, DASHES, EMOTIONS)}
    styles["all emotions"] = dict(color="#111314", width=4)
    symbols = dict(zip(EMOTIONS, SYMBOLS))
    for kind in [k for k in styles if k in lines]:  # the legend in the usual order of emotions
        xs, ys = lines[kind]
        # Plotly draws no line through a single point: a mark shows an emotion answered once.
        fig.add_scatter(x=xs, y=ys, name=kind, mode="lines" if len(xs) > 1 else "lines+markers",
                        line=styles[kind], marker=dict(color=styles[kind]["color"], size=10,
                                                       symbol=symbols.get(kind, "circle")))
    most = max((max(xs) for xs, _ in lines.values() if xs), default=1)
    fig.update_layout(title=f"Matching the label: each point is {whose} latest {window} answers of that kind",
                      xaxis=dict(title="answers so far", rangemode="tozero", **whole_number_ticks(most)),
                      yaxis=dict(range=[0, 1.05], tickformat=".0%"), height=400, **LAYOUT)
    return fig


def whole_number_ticks(largest: int, most_ticks: int = 10) -> dict:
    """Axis settings for a count: ticks on whole numbers only (Plotly's own choice goes to 0.5 for small
    ranges), 1, 2, 5, 10, 20, 50... apart so that there are at most `most_ticks` of them."""
    magnitude = 1
    while True:
        for step in (magnitude, 2 * magnitude, 5 * magnitude):
            if largest / step <= most_ticks:
                return dict(tick0=0, dtick=step, tickformat="d")
        magnitude *= 10


def tally_bars(tallies: dict, title: str) -> go.Figure:
    """Learner (or group) vs the model on the same faces, per group key."""
    keys = list(tallies)
    fig = go.Figure()
    fig.add_bar(name="learners", x=keys, y=[tallies[k].accuracy for k in keys], marker_color=MUTED[0],
                text=[f"{tallies[k].correct}/{tallies[k].answered}" for k in keys], textposition="outside")
    fig.add_bar(name="model", x=keys, y=[tallies[k].model_accuracy for k in keys],
                marker=dict(color=MUTED[6], pattern=dict(shape=PATTERNS[1], fillmode="overlay")))
    fig.update_layout(title=title, barmode="group", yaxis=dict(range=[0, 1.15], tickformat=".0%"), height=340,
                      **LAYOUT)
    return fig


def reliability_diagram(table: list[dict], title: str = "Confidence against accuracy") -> go.Figure:
    """Per confidence bin: how often the model's answer matched the label, against the diagonal of
    perfect calibration; bar widths are the bins, hover gives the faces in each."""
    rows = [r for r in table if r["count"]]
    fig = go.Figure()
    fig.add_scatter(x=[0, 1], y=[0, 1], mode="lines", name="perfectly calibrated",
                    line=dict(color=MUTED[6], dash="dash"))
    fig.add_bar(x=[(r["lower"] + r["upper"]) / 2 for r in rows], y=[r["accuracy"] for r in rows],
                width=[r["upper"] - r["lower"] for r in rows], name="matched the label", marker_color=MUTED[0],
                marker_line=dict(color="white", width=1), customdata=[[r["confidence"], r["count"]] for r in rows],
                hovertemplate="said %{customdata[0]:.0%} sure on average: right %{y:.0%} "
                              "of %{customdata[1]} faces<extra></extra>")
    fig.update_layout(title=title, xaxis=dict(title="the model's confidence", range=[0, 1], tickformat=".0%"),
                      yaxis=dict(title="share right", range=[0, 1], tickformat=".0%"), height=380,
                      legend=dict(orientation="h", y=-0.25), **LAYOUT)
    return fig
