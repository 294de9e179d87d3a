"""Altair charts for the analysis pages (Explore, Compare, Predict, Forum).

Every builder takes a tidy DataFrame (or plain lists) and returns a chart; nothing here
computes analysis results, which come from `engine.analysis` and `engine.prediction`.
"""

from __future__ import annotations

from collections.abc import Sequence

import altair as alt
import pandas as pd

from engine.metric_names import metric_label, metric_title

PAIR_SELECTION = "pair"  # name of the click selection on the co-activation heatmap
# Width follows the container, height is the plot's own: the legend below adds to it instead
# of squeezing the plot (Streamlit's default "fit" counts legend and title inside the height).
FIT_WIDTH = alt.AutoSizeParams(type="fit-x", contains="padding")


def confusion_matrix_chart(confusion: pd.DataFrame) -> alt.LayerChart:
    """Heatmap of the argmax confusion matrix, given wide (rows true, columns predicted)."""
    order = [str(name) for name in confusion.index]
    cells_frame = pd.DataFrame(
        [
            {"true": str(true), "predicted": str(predicted), "count": int(count)}
            for true, row in confusion.iterrows()
            for predicted, count in row.items()
        ]
    )
    base = alt.Chart(cells_frame).encode(
        x=alt.X("predicted:N", sort=order, title="predicted (argmax)"),
        y=alt.Y("true:N", sort=order, title="true class"),
    )
    cells = base.mark_rect().encode(
        color=alt.Color("count:Q", scale=alt.Scale(scheme="blues", type="symlog"), legend=None),
        tooltip=["true:N", "predicted:N", "count:Q"],
    )
    dark = float(cells_frame["count"].max()) / 3 if len(cells_frame) else 0.0
    labels = base.mark_text(fontSize=10).encode(
        text=alt.Text("count:Q"),
        color=alt.condition(alt.datum.count > dark, alt.value("white"), alt.value("black")),
    )
    return (cells + labels).properties(title="Confusion matrix (argmax)", height=320)


def coactivation_chart(
    coactivation: pd.DataFrame, selected: tuple[str, str] | None = None
) -> alt.Chart:
    """Heatmap of sigmoid co-activation strength, one cell per class pair (a, b).

    Columns (CoActivation.to_frame()): `a`, `b`, `strength`, `count` (both fire). A click on
    a cell selects the pair (selection named `PAIR_SELECTION`, fields a and b); the currently
    chosen pair gets a dark outline so a restored link shows it too.
    """
    order = list(dict.fromkeys([*coactivation["a"], *coactivation["b"]]))
    click = alt.selection_point(name=PAIR_SELECTION, fields=["a", "b"], on="click")
    chosen = alt.value(0)
    if selected is not None:
        is_chosen = (alt.datum.a == selected[0]) & (alt.datum.b == selected[1])
        chosen = alt.condition(is_chosen, alt.value(3), alt.value(0))
    return (
        alt.Chart(coactivation)
        .mark_rect(stroke="black")
        .encode(
            x=alt.X("b:N", sort=order, title="class"),
            y=alt.Y("a:N", sort=order, title="class"),
            color=alt.Color("strength:Q", scale=alt.Scale(scheme="orangered"), title="strength"),
            strokeWidth=chosen,
            tooltip=[
                "a:N",
                "b:N",
                alt.Tooltip("strength:Q", format=".4f"),
                alt.Tooltip("count:Q", title="both fire (at or above the threshold)"),
            ],
        )
        .add_params(click)
        .properties(title="Sigmoid co-activation (click a cell)", height=320)
    )


def pair_scatter_chart(
    points: pd.DataFrame, pair: tuple[str, str], threshold: float
) -> alt.LayerChart:
    """sigmoid(a) against sigmoid(b) per validation image, with the threshold as two rules.

    Columns: `sigmoid_a`, `sigmoid_b`, `true` (class name), `index` (validation image).
    """
    a, b = pair
    dots = (
        alt.Chart(points)
        .mark_circle(size=40, opacity=0.7)
        .encode(
            x=alt.X("sigmoid_a:Q", title=f"sigmoid({a})", scale=alt.Scale(domain=[0, 1])),
            y=alt.Y("sigmoid_b:Q", title=f"sigmoid({b})", scale=alt.Scale(domain=[0, 1])),
            color=alt.Color("true:N", title="true class"),
            tooltip=[
                "index:Q",
                "true:N",
                alt.Tooltip("sigmoid_a:Q", format=".3f", title=f"sigmoid({a})"),
                alt.Tooltip("sigmoid_b:Q", format=".3f", title=f"sigmoid({b})"),
            ],
        )
    )
    rule_frame = pd.DataFrame({"threshold": [threshold]})
    vertical = alt.Chart(rule_frame).mark_rule(strokeDash=[4, 4]).encode(x="threshold:Q")
    horizontal = alt.Chart(rule_frame).mark_rule(strokeDash=[4, 4]).encode(y="threshold:Q")
    return (dots + vertical + horizontal).properties(
        title=f"sigmoid({a}) vs sigmoid({b})", height=360
    )


def class_counts_chart(counts: pd.DataFrame, title: str) -> alt.Chart:
    """Bars of images per true class; columns `class`, `count`."""
    return (
        alt.Chart(counts)
        .mark_bar()
        .encode(
            x=alt.X("class:N", sort=list(counts["class"]), title="true class"),
            y=alt.Y("count:Q", title="images", axis=alt.Axis(tickMinStep=1, format="d")),
            tooltip=["class:N", "count:Q"],
        )
        .properties(title=title, height=150, autosize=FIT_WIDTH)
    )


RUN_LABEL_LIMIT = 28


def short_run_label(run_id: str, limit: int = RUN_LABEL_LIMIT) -> str:
    """A run id short enough for a legend, keeping both ends of a long id, the end (mode and
    hash) the longer: "20261125-171502-mnist-5k-multi-label-3f2a" becomes
    "20261125-…k-multi-label-3f2a"."""
    if len(run_id) <= limit:
        return run_id
    head = (limit - 1) // 3
    return run_id[:head] + "…" + run_id[len(run_id) - (limit - 1 - head) :]


def metric_curves_chart(history: pd.DataFrame, metric: str) -> alt.Chart:
    """One line per run of `metric` against epoch; columns `run`, `epoch`, `metric`, `value`.

    The y scale hugs the values (accuracies near 0.99 stay readable); runs are coloured in id
    order, so every curve chart of a page agrees, and named by `short_run_label`.
    """
    rows = history[history["metric"] == metric].assign(
        label=lambda frame: frame["run"].map(short_run_label)
    )
    labels = sorted(set(rows["label"]), key=list(rows["label"]).index)
    accuracy = "accuracy" in metric
    return (
        alt.Chart(rows)
        .mark_line(point=True)
        .encode(
            x=alt.X("epoch:Q", title="epoch", axis=alt.Axis(tickMinStep=1, format="d")),
            y=alt.Y(
                "value:Q",
                title=None,
                scale=alt.Scale(zero=False, nice=True),
                axis=alt.Axis(format=".1%" if accuracy else ".3f", tickCount=5),
            ),
            color=alt.Color(
                "label:N",
                title="run",
                scale=alt.Scale(domain=labels),
                legend=alt.Legend(orient="bottom", direction="vertical", labelLimit=260),
            ),
            tooltip=[
                "run:N",
                "epoch:Q",
                alt.Tooltip("value:Q", title=metric, format=".4f"),
            ],
        )
        .properties(
            title=alt.TitleParams(
                metric_title(metric, say_validation=True), anchor="start", offset=8
            ),
            height=220,
            autosize=FIT_WIDTH,
        )
    )


def reliability_chart(bins: pd.DataFrame) -> alt.LayerChart:
    """Reliability diagram: accuracy against confidence per bin, one line per reading.

    Columns: `reading`, `confidence` (mean in the bin), `accuracy`, `count`. The dashed
    diagonal is perfect calibration.
    """
    diagonal = (
        alt.Chart(pd.DataFrame({"x": [0.0, 1.0], "y": [0.0, 1.0]}))
        .mark_line(strokeDash=[4, 4], color="gray")
        .encode(x="x:Q", y="y:Q")
    )
    lines = (
        alt.Chart(bins)
        .mark_line(point=True)
        .encode(
            x=alt.X("confidence:Q", title="confidence", scale=alt.Scale(domain=[0, 1])),
            y=alt.Y("accuracy:Q", title="accuracy", scale=alt.Scale(domain=[0, 1])),
            color=alt.Color(
                "reading:N",
                title="reading",
                legend=alt.Legend(orient="bottom", direction="vertical", labelLimit=400),
            ),
            tooltip=[
                "reading:N",
                alt.Tooltip("confidence:Q", format=".3f"),
                alt.Tooltip("accuracy:Q", format=".3f"),
                "count:Q",
            ],
        )
    )
    return (diagonal + lines).properties(title="Reliability", height=300, autosize=FIT_WIDTH)


def probability_chart(
    class_names: Sequence[str],
    probabilities: Sequence[float],
    title: str,
    threshold: float | Sequence[float] | None = None,
) -> alt.Chart | alt.LayerChart:
    """Bars of one probability per class; with `threshold`, a red rule line across them, or
    with one threshold per class (tuned), a red tick on each bar."""
    frame = pd.DataFrame({"class": list(class_names), "probability": list(probabilities)})
    bars = (
        alt.Chart(frame)
        .mark_bar()
        .encode(
            x=alt.X("class:N", sort=list(class_names), title="class"),
            y=alt.Y("probability:Q", scale=alt.Scale(domain=[0, 1]), title="probability"),
            tooltip=["class:N", alt.Tooltip("probability:Q", format=".3f")],
        )
        .properties(title=title, height=220)
    )
    if threshold is None:
        return bars
    if not isinstance(threshold, int | float):
        frame["threshold"] = [float(value) for value in threshold]
        ticks = (
            alt.Chart(frame)
            .mark_tick(color="red", thickness=2)
            .encode(
                x=alt.X("class:N", sort=list(class_names)),
                y="threshold:Q",
                tooltip=["class:N", alt.Tooltip("threshold:Q", format=".3f")],
            )
        )
        return bars + ticks
    rule = (
        alt.Chart(pd.DataFrame({"threshold": [threshold]}))
        .mark_rule(color="red", strokeDash=[4, 4])
        .encode(y="threshold:Q")
    )
    return bars + rule


# ---------------------------------------------------------------------------------------------
# The threshold lesson (Explore): metrics against the threshold, and tuning before/after.


def threshold_curve_chart(curve: pd.DataFrame, current: float) -> alt.LayerChart:
    """Lines of accuracy_multi, exact match and macro F1 against the threshold (columns of
    engine.analysis.threshold_curve), the current threshold as a dashed rule."""
    long = curve.melt(id_vars="threshold", var_name="metric", value_name="value")
    metrics = [metric_label(column) for column in curve.columns if column != "threshold"]
    long["metric"] = long["metric"].map(metric_label)
    lines = (
        alt.Chart(long)
        .mark_line()
        .encode(
            x=alt.X("threshold:Q", scale=alt.Scale(domain=[0, 1]), title="threshold"),
            y=alt.Y("value:Q", scale=alt.Scale(domain=[0, 1]), title="on validation"),
            color=alt.Color("metric:N", title="metric", sort=metrics),
            tooltip=[
                alt.Tooltip("threshold:Q", format=".2f"),
                "metric:N",
                alt.Tooltip("value:Q", format=".3f"),
            ],
        )
    )
    rule = (
        alt.Chart(pd.DataFrame({"threshold": [float(current)], "label": ["current"]}))
        .mark_rule(color="black", strokeDash=[4, 4])
        .encode(x="threshold:Q", tooltip=[alt.Tooltip("threshold:Q", title="current")])
    )
    title = alt.TitleParams(
        "Metrics against the threshold",
        subtitle=f"dashed line: the current threshold, {float(current):.2f}",
    )
    return (lines + rule).properties(title=title, height=280, autosize=FIT_WIDTH)
