"""The analysis of one run (and, given a second, the three readings) as one JSON-able dict for
the command line and the dashboard, and as a readable text table.

`analysis_report(run)` reads the run's validation outputs with a sigmoid per class, whatever
the run was trained with, as the dashboard's Explore page does: for a softmax-trained run that
is reading (b) of the three, and the report says so. `reading="softmax"` reads them with
softmax instead. Everything in it comes from the pure functions of this package.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import pandas as pd

from engine.analysis.calibration import classwise_reliability, top_label_reliability
from engine.analysis.neither import check_non_digits
from engine.analysis.outputs import checked_pair
from engine.analysis.pairs import confused_pairs, firing_sets
from engine.analysis.readings import compare_runs, explain_readings
from engine.analysis.thresholds import threshold_metrics, tune_thresholds
from engine.json_values import plain_json
from engine.metric_names import metric_label

if TYPE_CHECKING:
    from engine.runs import LoadedRun

TOP_PAIRS = 20  # pairs listed in a report; 10 classes have 45


def analysis_report(
    run: LoadedRun,
    threshold: float = 0.5,
    compare: LoadedRun | None = None,
    non_digits: int = 500,
    top_pairs: int = TOP_PAIRS,
    reading: str = "sigmoid",
) -> dict[str, Any]:
    """Pairs, both / neither, metrics (global and F1-tuned thresholds), calibration, the
    non-digit check, and with `compare` (the other label mode, same data) the three readings.

    Keys: run, dataset, mode, reading, threshold, count, class_names, pairs (strongest first:
    a, b, strength, both_count, ...), both_count, neither_count, per_class, metrics, tuned,
    calibration, non_digits (None when `non_digits` is 0), and readings / explanation.
    """
    if reading not in ("sigmoid", "softmax"):
        raise ValueError(f"unknown reading {reading!r}: use 'sigmoid' or 'softmax'")
    mode = run.config.train.mode
    logits, truth = checked_pair(run.validation.logits, run.validation.targets)
    probabilities = logits.sigmoid() if reading == "sigmoid" else logits.softmax(dim=1)
    names = list(run.class_names)
    pairs = confused_pairs(probabilities, truth, names, threshold, top=top_pairs)
    sets = firing_sets(probabilities, truth, names, threshold)
    metrics = threshold_metrics(probabilities, truth, names, threshold)
    tuned = tune_thresholds(probabilities, truth, default=threshold)
    tuned_metrics = threshold_metrics(probabilities, truth, names, tuned)
    argmax_hit = truth.gather(1, logits.argmax(dim=1, keepdim=True)).float().mean()
    report: dict[str, Any] = {
        "run": run.id,
        "dataset": run.config.data.dataset,
        "mode": mode,
        "reading": reading,
        "threshold": float(threshold),
        "count": int(len(logits)),
        "class_names": names,
        "pairs": _records(pairs),
        "both_count": sets.both_count,
        "neither_count": sets.neither_count,
        "per_class": _records(sets.per_class.reset_index()),
        "metrics": {"accuracy": float(argmax_hit), **metrics.to_dict()},
        "tuned": {
            "thresholds": [float(value) for value in tuned],
            "accuracy_multi": tuned_metrics.accuracy_multi,
            "exact_match": tuned_metrics.exact_match,
            "macro_f1": tuned_metrics.macro_f1,
        },
        "calibration": {
            "top_label": top_label_reliability(probabilities, truth).to_dict(),
            "classwise": classwise_reliability(probabilities, truth).to_dict(),
        },
        "non_digits": None,
    }
    runs = [run] if compare is None else [run, compare]
    if compare is not None:
        readings = compare_runs(run, compare, threshold)
        report["readings"] = [
            {**r.to_dict(), "calibration": r.calibration.to_dict()} for r in readings
        ]
        report["explanation"] = explain_readings(readings)
    if non_digits > 0:
        report["non_digits"] = check_non_digits(runs, threshold, count=non_digits).to_dict()
    return report


def format_report(report: dict[str, Any]) -> str:
    """The report as text tables for a terminal."""
    lines = [
        f"Run {report['run']}: {report['dataset']}, {report['mode']} "
        f"(read with {report['reading']}), {report['count']} validation images, "
        f"threshold {report['threshold']:g}",
        "",
        "Most confused pairs (strength: mean min(p_a, p_b) over the images of a and b)",
    ]
    if report["mode"] == "multi-class" and report["reading"] == "sigmoid":
        lines.insert(1, "(a softmax-trained run read with sigmoids: reading (b) of the three)")
    if report["pairs"]:
        pairs = pd.DataFrame(report["pairs"])
        table = pd.DataFrame(
            {
                "pair": pairs["a"] + " / " + pairs["b"],
                "strength": pairs["strength"].map(lambda v: f"{v:.4f}"),
                "both": pairs["both_count"],
                "truly a/b/both/other": pairs["true_a"].astype(str)
                + "/"
                + pairs["true_b"].astype(str)
                + "/"
                + pairs["true_both"].astype(str)
                + "/"
                + pairs["true_other"].astype(str),
                "argmax a->b": pairs["confused_a_as_b"],
                "b->a": pairs["confused_b_as_a"],
                "most ambiguous images": pairs["examples"].map(
                    lambda ids: ", ".join(str(i) for i in ids[:5])
                ),
            }
        )
        lines.append(_indent(table.head(10).to_string(index=False)))
    lines += [
        "",
        f"Both (two or more classes fire): {report['both_count']}    "
        f"Neither (no class fires): {report['neither_count']}",
        "",
    ]
    metrics = report["metrics"]
    scores = ", ".join(
        f"{metric_label(key)} {metrics[key]:.4f}"
        for key in ("accuracy", "accuracy_multi", "exact_match", "macro_f1")
    )
    lines.append(
        f"Metrics at threshold {report['threshold']:g}: {scores}, mean AP "
        f"{_number(metrics['mean_average_precision'])}"
    )
    per_class = pd.DataFrame(metrics["per_class"]).set_index("class")
    firing = pd.DataFrame(report["per_class"]).set_index("class")
    table = per_class[["precision", "recall", "f1", "average_precision"]].join(
        firing[["images", "both", "neither"]]
    )
    table["tuned threshold"] = report["tuned"]["thresholds"]
    lines.append(_indent(table.to_string(float_format=lambda v: f"{v:.3f}")))
    tuned = report["tuned"]
    lines += [
        f"With per-class thresholds tuned for F1: macro F1 {tuned['macro_f1']:.4f}, exact match "
        f"{tuned['exact_match']:.4f}",
        f"Calibration error (ECE): top label "
        f"{report['calibration']['top_label']['expected_calibration_error']:.4f}, every "
        f"probability {report['calibration']['classwise']['expected_calibration_error']:.4f}",
    ]
    if report.get("readings"):
        lines += ["", "The three readings of the same validation images"]
        rows = {
            "exact_match": "exact match (set of classes right)",
            "argmax_accuracy": "argmax accuracy (top class right)",
            "both_count": "both (2+ classes)",
            "neither_count": "neither (no class)",
            "error_auroc": "AUROC of max prob. as error detector",
            "expected_calibration_error": "calibration error (ECE)",
        }
        shown = pd.DataFrame(
            {f"({r['key']})": [_cell(r[key]) for key in rows] for r in report["readings"]},
            index=list(rows.values()),
        )
        lines.append(_indent(shown.to_string()))
        lines += [_indent(f"({r['key']}) {r['title']}") for r in report["readings"]]
        lines.append(report["explanation"])
    if report.get("non_digits"):
        check = report["non_digits"]
        lines += ["", f"Non-digits ({check['count']} generated images the model never saw)"]
        rows = pd.DataFrame(check["readings"]).set_index("key")
        lines.append(
            _indent(
                rows[["neither_rate", "low_confidence_rate", "top_class", "top_class_share"]]
                .rename(index=lambda key: f"({key})")
                .to_string(float_format=lambda v: f"{v:.2f}")
            )
        )
        lines.append(check["explanation"])
    return "\n".join(lines)


def _records(frame: pd.DataFrame) -> list[dict[str, Any]]:
    """DataFrame rows as strict-JSON dicts (numpy scalars to Python, NaN to None)."""
    return [plain_json(row) for row in frame.to_dict("records")]


def _cell(value: Any) -> str:
    if value is None:
        return "n/a"
    return str(value) if isinstance(value, int) else f"{value:.4f}"


def _number(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.4f}"


def _indent(text: str) -> str:
    return "\n".join("  " + line for line in text.splitlines())
