"""Altair charts for the Data and Train pages. Builders take tidy data and return a chart;
nothing here computes results. The analysis pages' charts live in charts_analysis.py.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import altair as alt
import pandas as pd

from engine.metric_names import metric_label

# The training curves' two panels, and the metrics each draws (named by engine.metric_names).
LOSS_METRICS = ("train_loss", "val_loss")
ACCURACY_METRICS = ("val_accuracy", "val_accuracy_multi", "val_exact_match", "val_macro_f1")


def class_balance_chart(counts: pd.DataFrame) -> alt.Chart:
    """Bars of images per class, stacked train/valid; columns `class`, `part`, `count`."""
    order = list(dict.fromkeys(counts["class"]))
    return (
        alt.Chart(counts)
        .mark_bar()
        .encode(
            x=alt.X("class:N", sort=order, title="class"),
            y=alt.Y("sum(count):Q", title="images"),
            color=alt.Color("part:N", title="part", sort=["train", "valid"]),
            order=alt.Order("part:N", sort="ascending"),
            tooltip=["class:N", "part:N", "count:Q"],
        )
        .properties(height=260)
    )


def history_frame(history: Sequence[Mapping[str, float]]) -> pd.DataFrame:
    """Per-epoch metric dicts -> long form: epoch, metric, value, kind ("loss"/"accuracy")."""
    rows = []
    for number, epoch in enumerate(history, start=1):
        for key in (*LOSS_METRICS, *ACCURACY_METRICS):
            if key in epoch and epoch[key] is not None:
                kind = "loss" if key in LOSS_METRICS else "accuracy"
                value = float(epoch[key])
                rows.append(
                    {
                        "epoch": int(epoch.get("epoch", number)),
                        "metric": metric_label(key),
                        "value": value,
                        "kind": kind,
                    }
                )
    return pd.DataFrame(rows, columns=["epoch", "metric", "value", "kind"])


def training_curves(history: Sequence[Mapping[str, float]], epochs: int) -> alt.HConcatChart:
    """Loss and accuracy per epoch, side by side, with the x axis spanning all `epochs`."""
    frame = history_frame(history)
    x = alt.X("epoch:Q", scale=alt.Scale(domain=[1, max(2, epochs)]), axis=alt.Axis(tickMinStep=1))

    def panel(kind: str, title: str, y_scale: alt.Scale) -> alt.Chart:
        return (
            alt.Chart(frame[frame["kind"] == kind])
            .mark_line(point=True)
            .encode(
                x=x,
                y=alt.Y("value:Q", title=kind, scale=y_scale),
                color=alt.Color("metric:N", title=None, legend=alt.Legend(orient="bottom")),
                tooltip=["epoch:Q", "metric:N", alt.Tooltip("value:Q", format=".4f")],
            )
            .properties(title=title, height=240, width=320)
        )

    return alt.hconcat(
        panel("loss", "Loss", alt.Scale(zero=False)),
        panel("accuracy", "Validation accuracy", alt.Scale(domain=[0, 1])),
    ).resolve_scale(color="independent")


def labels_per_image_chart(counts: pd.DataFrame) -> alt.Chart:
    """Bars of images by how many labels they carry (0 = "none"), stacked train/valid;
    columns `labels`, `part`, `images` (engine.overview.labels_per_image)."""
    return (
        alt.Chart(counts)
        .mark_bar()
        .encode(
            x=alt.X("labels:O", title="labels per image (0 = none of the classes)"),
            y=alt.Y("sum(images):Q", title="images"),
            color=alt.Color("part:N", title="part", sort=["train", "valid"]),
            order=alt.Order("part:N", sort="ascending"),
            tooltip=["labels:O", "part:N", "images:Q"],
        )
        .properties(height=220)
    )
