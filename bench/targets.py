"""The bench's speed goals, checked against a run's results: what was aimed for, what was measured,
and by how much it was met or missed."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from bench.report import table


@dataclass(frozen=True)
class Target:
    name: str
    goal: float
    measured: float | None
    higher_is_better: bool
    unit: str = ""

    @property
    def met(self) -> bool | None:
        if self.measured is None:
            return None
        return self.measured >= self.goal if self.higher_is_better else self.measured < self.goal

    @property
    def margin(self) -> float | None:
        """measured / goal for 'at least' targets, goal / measured for 'under' targets:
        above 1 means met with room to spare, below 1 means missed by that factor."""
        if self.measured is None or self.measured == 0:
            return None
        return self.measured / self.goal if self.higher_is_better else self.goal / self.measured

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "goal": self.goal,
            "measured": self.measured,
            "unit": self.unit,
            "met": self.met,
            "margin": self.margin,
        }


def _engine_efficiency(training: list[dict[str, Any]]) -> float | None:
    values = [entry["engine_efficiency"] for entry in training]
    return max(values) if values else None


def _seconds_to(accuracy: list[dict[str, Any]], target: str) -> float | None:
    """The slowest engine mode's time to `target`; None if a mode never reached it."""
    times = [row["seconds_to"][target] for row in accuracy if row["side"] == "engine"]
    if not times or any(value is None for value in times):
        return None
    return max(times)


def check_targets(results: dict[str, Any]) -> list[Target]:
    """Every target the results can speak to."""
    targets = [
        Target("CPU training: engine / baseline", 2.0, results.get("speedup"), True, "x"),
        Target(
            "CPU training: share of the matmul ceiling",
            0.85,
            _engine_efficiency(results.get("training", [])),
            True,
        ),
        Target(
            "CPU: seconds to 97.5% validation accuracy (both modes)",
            5.0,
            _seconds_to(results.get("accuracy", []), "0.975"),
            False,
            "s",
        ),
    ]
    if "latency" in results:
        targets.append(
            Target(
                "CPU predict: one uploaded PNG",
                0.005,
                results["latency"]["one_image_seconds"],
                False,
                "s",
            )
        )
    if "analysis" in results:
        largest = max(results["analysis"], key=lambda entry: entry["outputs"])
        targets.append(
            Target(
                f"analysis of {largest['outputs']:,} outputs",
                1.0,
                largest["total_seconds"],
                False,
                "s",
            )
        )
    if "startup" in results:
        seconds = {entry["command"]: entry["seconds"] for entry in results["startup"]}
        targets.append(
            Target(
                "python -m engine --help", 1.0, seconds.get("python -m engine --help"), False, "s"
            )
        )
    gpu = results.get("gpu")
    if gpu and gpu.get("scaling"):
        largest = max(gpu["scaling"], key=lambda entry: entry["images"])
        best = largest["engine"]["best_images_per_second"]
        targets.append(
            Target(
                f"GPU: seconds per epoch of {largest['images']:,} images",
                0.3,
                largest["images"] / best,
                False,
                "s",
            )
        )
        targets.append(
            Target("GPU training: engine / baseline", 10.0, largest["speedup"], True, "x")
        )
    return targets


def targets_text(targets: list[Target]) -> str:
    rows = []
    for target in targets:
        goal = ("at least " if target.higher_is_better else "under ") + _show(target.goal, target)
        verdict = {True: "met", False: "MISSED", None: "not measured"}[target.met]
        margin = target.margin
        rows.append(
            [
                target.name,
                goal,
                _show(target.measured, target),
                verdict,
                f"{margin:.2f}" if margin is not None else "-",
            ]
        )
    headers = ["target", "goal", "measured", "", "margin"]
    note = "margin: measured/goal ('at least') or goal/measured ('under'); below 1 = missed by it"
    return table("Targets", headers, rows) + "\n" + note


def _show(value: float | None, target: Target) -> str:
    if value is None:
        return "-"
    if target.unit == "x":
        return f"{value:.2f}x"
    if target.unit == "s":
        return f"{value * 1e3:.1f} ms" if value < 0.1 else f"{value:.2f} s"
    return f"{value:.0%}"
