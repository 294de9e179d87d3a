"""The names metrics are shown under: one table for every page, chart, table and text report,
so a metric reads the same wherever it appears. Keys are the names in a run's history and
run.json (`val_exact_match`); analysis results use the bare names (`exact_match`), which are
looked up the same way. No torch.
"""

from __future__ import annotations

METRIC_LABELS = {
    "train_loss": "training loss",
    "val_loss": "validation loss",
    "val_accuracy": "accuracy (argmax)",
    "val_accuracy_multi": "accuracy_multi",  # fastai's name, kept as code writes it
    "val_exact_match": "exact match",
    "val_macro_f1": "macro F1",
}
VALIDATION_PREFIX = "val_"


def metric_label(key: str) -> str:
    """A metric's name in running text, legends and table columns: `val_exact_match` or
    `exact_match` -> "exact match"."""
    if key in METRIC_LABELS:
        return METRIC_LABELS[key]
    return METRIC_LABELS[VALIDATION_PREFIX + key]


def metric_title(key: str, *, say_validation: bool = False) -> str:
    """A metric's name as a heading: a capital first letter ("Exact match"), except for a code
    name (accuracy_multi). With `say_validation`, for a chart seen apart from the others, a
    validation metric says so: "Validation accuracy (argmax)"."""
    label = metric_label(key)
    if say_validation and key.startswith(VALIDATION_PREFIX) and "validation" not in label:
        label = f"validation {label}"
    if "_" in label.split(" ")[0]:
        return label
    return label[0].upper() + label[1:]
