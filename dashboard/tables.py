"""Tables and galleries for the analysis pages (Explore, Compare, Predict, Forum): engine
results reshaped into the DataFrames `st.dataframe` shows and the captioned images
`st.image` shows. Nothing here computes analysis results, which come from `engine.analysis`
and `engine.prediction`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import torch

from engine.analysis.outputs import truth_matrix
from engine.images import to_display
from engine.labels import fires
from engine.metric_names import metric_label


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
    shown = [to_display(images[index]) for index in chosen]
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
# Compare page: tabulating runs.

RUN_METRICS = (
    "val_accuracy",
    "val_loss",
    "train_loss",
    "val_accuracy_multi",
    "val_exact_match",
    "val_macro_f1",
)


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


def tuning_table(tuning) -> pd.DataFrame:
    """engine.analysis.HeldOutTuning's three scores as rows, for st.dataframe."""
    rows = {
        f"one threshold, {tuning.default_threshold:.2f}": tuning.before,
        "tuned per class, scored on the other half (honest)": tuning.held_out,
        "tuned and scored on the same images (optimistic)": tuning.in_sample,
    }
    return pd.DataFrame(
        [
            {"thresholds": name, **{metric_label(key): round(value, 4) for key, value in s.items()}}
            for name, s in rows.items()
        ]
    )
