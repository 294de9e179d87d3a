"""Altair charts for the analysis pages (Explore, Compare, Predict), and the one helper that
turns saved uint8 images into arrays `st.image` can show.

Every builder takes a tidy DataFrame (or plain lists) and returns a chart; nothing here
computes analysis results, which come from `engine.analysis` and `engine.prediction`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import altair as alt
import numpy as np
import pandas as pd
import torch

from engine.analysis.outputs import truth_matrix
from engine.labels import fires

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


METRIC_TITLES = {
    "val_accuracy": "Validation accuracy (argmax)",
    "val_loss": "Validation loss",
    "train_loss": "Training loss",
}
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
            title=alt.TitleParams(METRIC_TITLES.get(metric, metric), anchor="start", offset=8),
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


def display_image(image: np.ndarray) -> np.ndarray:
    """A saved uint8 image (C, H, W) as `st.image` wants it: (H, W) grey or (H, W, C)."""
    array = np.asarray(image)
    if array.ndim == 3 and array.shape[0] in (1, 3, 4) and array.shape[-1] not in (3, 4):
        array = array[0] if array.shape[0] == 1 else np.transpose(array, (1, 2, 0))
    return np.ascontiguousarray(array.astype(np.uint8))


# ---------------------------------------------------------------------------------------------
# Tables and galleries: reshaping engine results for display, no analysis.


def pair_label(a: str, b: str) -> str:
    """How a pair is written in the URL and the pair chooser: "4-9"."""
    return f"{a}-{b}"


def pair_labels_by_cell(pairs: pd.DataFrame) -> dict[tuple[str, str], str]:
    """Both orders of every listed pair -> its label, for heatmap clicks."""
    labels = {}
    for a, b in zip(pairs["a"], pairs["b"], strict=True):
        labels[(str(a), str(b))] = labels[(str(b), str(a))] = pair_label(str(a), str(b))
    return labels


def pair_table(pairs: pd.DataFrame) -> pd.DataFrame:
    """The ranked pair list (engine.analysis.confused_pairs) as the page shows it."""
    return pd.DataFrame(
        {
            "rank": range(1, len(pairs) + 1),
            "pair": [pair_label(a, b) for a, b in zip(pairs["a"], pairs["b"], strict=True)],
            "strength": pairs["strength"].round(4),
            "both fire": pairs["both_count"],
            "of which true a": pairs["true_a"],
            "of which true b": pairs["true_b"],
            "argmax a as b": pairs["confused_a_as_b"],
            "argmax b as a": pairs["confused_b_as_a"],
        }
    )


def true_class_names(targets: torch.Tensor, class_names: Sequence[str]) -> list[str]:
    """Each image's true class name(s), "3+8" for a multi-hot image, "none" for all-zero."""
    truth = truth_matrix(targets, len(class_names)).numpy()
    return ["+".join(str(class_names[k]) for k in np.flatnonzero(row)) or "none" for row in truth]


def pair_points(
    probabilities: torch.Tensor,
    targets: torch.Tensor,
    class_names: Sequence[str],
    a_index: int,
    b_index: int,
) -> pd.DataFrame:
    """The scatter's points: images truly a or b, with sigmoid(a), sigmoid(b) and the truth."""
    truth = truth_matrix(targets, len(class_names)).numpy()
    indices = np.flatnonzero(truth[:, a_index] | truth[:, b_index])
    scores = np.asarray(probabilities)[indices]
    names = true_class_names(torch.as_tensor(truth[indices]), class_names)
    return pd.DataFrame(
        {
            "index": indices,
            "sigmoid_a": scores[:, a_index],
            "sigmoid_b": scores[:, b_index],
            "true": names,
        }
    )


def per_class_counts(per_class: pd.DataFrame, column: str) -> pd.DataFrame:
    """One column of FiringSets.per_class as `class`, `count` rows."""
    return pd.DataFrame(
        {"class": [str(name) for name in per_class.index], "count": per_class[column].to_numpy()}
    )


def per_class_table(per_class: pd.DataFrame) -> pd.DataFrame:
    """ThresholdMetrics.per_class as shown: precision, recall, F1, labels and firings."""
    table = per_class[["precision", "recall", "f1", "support", "predicted"]].copy()
    table[["precision", "recall", "f1"]] = table[["precision", "recall", "f1"]].round(3)
    return table.rename(columns={"f1": "F1", "support": "labels", "predicted": "fired"})


@dataclass(frozen=True)
class Gallery:
    """Images ready for `st.image(images, caption=captions)`."""

    images: list[np.ndarray]
    captions: list[str]


def gallery(
    images: torch.Tensor,
    indices: Sequence[int] | np.ndarray,
    probabilities: torch.Tensor,
    targets: torch.Tensor,
    class_names: Sequence[str],
    threshold: float | np.ndarray | None = None,
) -> Gallery:
    """Validation images with captions: the truth, then what fired at `threshold` (or, without
    one, the two highest sigmoids)."""
    chosen = [int(index) for index in indices]
    truth = true_class_names(targets[chosen], class_names) if chosen else []
    scores = np.asarray(probabilities)[chosen]
    captions = []
    for row, true_name in zip(scores, truth, strict=True):
        if threshold is None:
            top = np.argsort(-row)[:2]
            read = " ".join(f"{class_names[k]}:{row[k]:.2f}" for k in top)
        else:
            fired = np.flatnonzero(fires(torch.as_tensor(row), torch.as_tensor(threshold)))
            read = "+".join(str(class_names[k]) for k in fired) or "none"
        captions.append(f"true {true_name} → {read}")
    shown = [display_image(images[index].numpy()) for index in chosen]
    return Gallery(images=shown, captions=captions)


def most_striking(
    indices: Sequence[int] | np.ndarray, probabilities: torch.Tensor, kind: str
) -> np.ndarray:
    """Gallery order: "both" images by their second-highest sigmoid (the most two-sided
    first), "neither" images by their highest (the nearest to firing first)."""
    chosen = np.asarray(indices, dtype=np.int64)
    if len(chosen) == 0:
        return chosen
    ordered = np.sort(np.asarray(probabilities)[chosen], axis=1)
    key = ordered[:, -2] if kind == "both" and ordered.shape[1] > 1 else ordered[:, -1]
    return chosen[np.argsort(-key, kind="stable")]


# ---------------------------------------------------------------------------------------------
# Compare page: choosing and tabulating runs.

RUN_METRICS = (
    "val_accuracy",
    "val_loss",
    "train_loss",
    "val_accuracy_multi",
    "val_exact_match",
    "val_macro_f1",
)


def default_comparison(summaries: Sequence) -> list[str]:
    """The runs Compare opens with: the newest softmax-trained and sigmoid-trained runs of one
    dataset among the user's runs, else the shipped (read-only) demo pair, else any such pair,
    else the two newest. `summaries` are newest first; a pair never mixes a user's run with a
    demo run while a cleaner pair exists, since the demos' settings differ from the user's."""
    own = [summary for summary in summaries if not getattr(summary, "read_only", False)]
    shipped = [summary for summary in summaries if getattr(summary, "read_only", False)]
    for candidates in (own, shipped, list(summaries)):
        for first in candidates:
            for second in candidates:
                if (
                    first.dataset == second.dataset
                    and first.mode == "multi-class"
                    and second.mode == "multi-label"
                ):
                    return [first.id, second.id]
    return [summary.id for summary in summaries[:2]]


def other_mode(mode: str) -> str:
    """The label mode a run's twin is trained in."""
    return "multi-class" if mode == "multi-label" else "multi-label"


def saved_twin(run, summaries: Sequence) -> str | None:
    """The id of the newest saved run in the other mode with `run`'s dataset, model and
    epochs (its twin), or None."""
    for summary in summaries:
        if (
            summary.mode == other_mode(run.mode)
            and summary.dataset == run.config.data.dataset
            and summary.model == run.config.model.name
            and summary.epochs == run.config.train.epochs
        ):
            return summary.id
    return None


def matching_pair(softmax_runs: Sequence, sigmoid_runs: Sequence) -> tuple | None:
    """A (softmax-trained, sigmoid-trained) pair of loaded runs on the same dataset, or None."""
    for softmax_run in softmax_runs:
        for sigmoid_run in sigmoid_runs:
            if softmax_run.config.data.dataset == sigmoid_run.config.data.dataset:
                return softmax_run, sigmoid_run
    return None


def dataset_name(dataset: str) -> str:
    """A dataset as people call it: a `zip:`/`folder:` set by its file or folder name (an
    upload's own file name), never the server path it is kept under."""
    for prefix in ("zip:", "folder:"):
        if dataset.startswith(prefix):
            return Path(dataset.removeprefix(prefix)).name or dataset
    return dataset


def runs_table(summaries: Sequence) -> pd.DataFrame:
    """One row per run: what it is and its last epoch's metrics."""
    rows = []
    for summary in summaries:
        row = {
            "run": summary.id,
            "dataset": dataset_name(summary.dataset),
            "mode": summary.mode,
            "model": summary.model,
            "epochs": summary.epochs_done,
        }
        for metric in RUN_METRICS:
            value = summary.metrics.get(metric)
            row[metric] = None if value is None else round(float(value), 4)
        rows.append(row)
    table = pd.DataFrame(rows)
    return table.dropna(axis="columns", how="all")


def history_frame(histories: dict[str, Sequence[dict]]) -> pd.DataFrame:
    """Long form of per-epoch metrics: run, epoch, metric, value."""
    rows = [
        {"run": run_id, "epoch": int(epoch.get("epoch", number + 1)), "metric": key, "value": value}
        for run_id, epochs in histories.items()
        for number, epoch in enumerate(epochs)
        for key, value in epoch.items()
        if key not in ("epoch", "seconds") and value is not None
    ]
    return pd.DataFrame(rows, columns=["run", "epoch", "metric", "value"])


def readings_table(frame: pd.DataFrame) -> pd.DataFrame:
    """engine's readings_frame (one column per reading) with readable column names."""
    table = frame.map(lambda value: round(value, 4) if isinstance(value, float) else value)
    table.columns = [f"({key})" for key in table.columns]
    return table.astype(str)


def reliability_frame(readings: Sequence) -> pd.DataFrame:
    """Top-label reliability bins of every reading, stacked, for `reliability_chart`."""
    parts = []
    for reading in readings:
        bins = reading.calibration.bins
        bins = bins[bins["count"] > 0]
        parts.append(
            pd.DataFrame(
                {
                    "reading": f"({reading.key}) {reading.title}",
                    "confidence": bins["confidence"].to_numpy(),
                    "accuracy": bins["accuracy"].to_numpy(),
                    "count": bins["count"].to_numpy(),
                }
            )
        )
    return pd.concat(parts, ignore_index=True)


def neither_table(readings: pd.DataFrame) -> pd.DataFrame:
    """NeitherCheck.readings as percentages."""
    return pd.DataFrame(
        {
            "reading": [f"({key}) {title}" for key, title in readings["title"].items()],
            'says "neither" %': (readings["neither_rate"] * 100).round(1).to_numpy(),
            "top probability < threshold %": (readings["low_confidence_rate"] * 100)
            .round(1)
            .to_numpy(),
            "most named class": readings["top_class"].to_numpy(),
            "named that %": (readings["top_class_share"] * 100).round(1).to_numpy(),
        }
    )


# ---------------------------------------------------------------------------------------------
# The threshold lesson (Explore): metrics against the threshold, and tuning before/after.

CURVE_LABELS = {
    "accuracy_multi": "accuracy_multi",
    "exact_match": "exact match",
    "macro_f1": "macro F1",
}


def threshold_curve_chart(curve: pd.DataFrame, current: float) -> alt.LayerChart:
    """Lines of accuracy_multi, exact match and macro F1 against the threshold (columns of
    engine.analysis.threshold_curve), the current threshold as a dashed rule."""
    long = curve.melt(id_vars="threshold", var_name="metric", value_name="value")
    long["metric"] = long["metric"].map(CURVE_LABELS)
    lines = (
        alt.Chart(long)
        .mark_line()
        .encode(
            x=alt.X("threshold:Q", scale=alt.Scale(domain=[0, 1]), title="threshold"),
            y=alt.Y("value:Q", scale=alt.Scale(domain=[0, 1]), title="on validation"),
            color=alt.Color("metric:N", title="metric", sort=list(CURVE_LABELS.values())),
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


def tuning_table(tuning) -> pd.DataFrame:
    """engine.analysis.HeldOutTuning's three scores as rows, for st.dataframe."""
    rows = {
        f"one threshold, {tuning.default_threshold:.2f}": tuning.before,
        "tuned per class, scored on the other half (honest)": tuning.held_out,
        "tuned and scored on the same images (optimistic)": tuning.in_sample,
    }
    return pd.DataFrame(
        [
            {"thresholds": name, **{CURVE_LABELS[key]: round(value, 4) for key, value in s.items()}}
            for name, s in rows.items()
        ]
    )
