"""Analysis of a run's validation outputs: where the sigmoids reveal confusion.

Plain functions over logits / probabilities, targets and images that return dataclasses and
DataFrames, never charts, fast enough to recompute on every slider move:
- `pairs`: co-activation, confusion matrix, ranked confused pairs, both / neither;
- `thresholds`: global and F1-tuned thresholds, accuracy_multi, per-class P/R/F1/AP, the
  threshold curve and tuning scored on held-out halves;
- `readings`: the forum question's three readings side by side, AUROC as error detector;
- `calibration`: expected calibration error and reliability-chart data;
- `neither`: how often each reading calls generated non-digits "none of the classes";
- `experiments`: teaching "none" with all-zero targets, measured;
- `report`: `analysis_report` (JSON-able dict for the CLI) and `format_report`.
"""

from engine.analysis.calibration import (
    Reliability,
    classwise_reliability,
    reliability,
    top_label_reliability,
)
from engine.analysis.experiments import TeachingNone, teach_none
from engine.analysis.neither import (
    NeitherCheck,
    check_non_digits,
    fit_images_to_shape,
    model_logits,
    neither_rates,
)
from engine.analysis.pairs import (
    CoActivation,
    FiringSets,
    WrongLabelSets,
    coactivation,
    confused_pairs,
    confusion_matrix,
    firing_sets,
    wrong_label_sets,
)
from engine.analysis.readings import (
    READINGS,
    Reading,
    auroc,
    compare_runs,
    explain_readings,
    read_outputs,
    readings_frame,
    three_readings,
)
from engine.analysis.report import analysis_report, format_report
from engine.analysis.thresholds import (
    CURVE_THRESHOLDS,
    HeldOutTuning,
    ThresholdMetrics,
    accuracy_multi,
    average_precision,
    held_out_tuning,
    threshold_curve,
    threshold_metrics,
    tune_thresholds,
)

__all__ = [
    "TeachingNone",
    "teach_none",
    "NeitherCheck",
    "analysis_report",
    "check_non_digits",
    "fit_images_to_shape",
    "format_report",
    "model_logits",
    "neither_rates",
    "READINGS",
    "Reading",
    "Reliability",
    "auroc",
    "classwise_reliability",
    "compare_runs",
    "explain_readings",
    "read_outputs",
    "readings_frame",
    "reliability",
    "three_readings",
    "top_label_reliability",
    "CoActivation",
    "FiringSets",
    "WrongLabelSets",
    "wrong_label_sets",
    "ThresholdMetrics",
    "accuracy_multi",
    "average_precision",
    "coactivation",
    "confused_pairs",
    "confusion_matrix",
    "firing_sets",
    "threshold_metrics",
    "tune_thresholds",
    "CURVE_THRESHOLDS",
    "HeldOutTuning",
    "held_out_tuning",
    "threshold_curve",
]
