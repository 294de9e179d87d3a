"""How results are shown and kept: aligned text tables on stdout, and one JSON file."""

from __future__ import annotations

import math
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from engine.json_values import json_text
from engine.text_table import text_table


def format_value(value: Any) -> str:
    """Numbers at a readable precision; None as a dash."""
    if value is None:
        return "-"
    if isinstance(value, bool) or not isinstance(value, int | float):
        return str(value)
    if isinstance(value, float) and not math.isfinite(value):
        return "-"
    magnitude = abs(value)
    if isinstance(value, int) or magnitude >= 1000:
        return f"{value:,.0f}"
    if magnitude >= 100:
        return f"{value:.1f}"
    if magnitude >= 1:
        return f"{value:.2f}"
    return f"{value:.3g}"


def table(title: str, headers: Sequence[str], rows: Sequence[Sequence[Any]]) -> str:
    """A titled text table with right-aligned figures."""
    cells = [[format_value(cell) for cell in row] for row in rows]
    figures = range(1, len(headers))  # the first column names the row
    return f"== {title}\n" + text_table(headers, cells, right=figures)


def save_json(results: dict[str, Any], path: Path | str) -> None:
    """Write the results where `--json PATH` asked, creating the folder if needed: strict
    JSON through the engine's one sanitiser (numpy values as numbers, NaN as null)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json_text(results) + "\n", encoding="utf-8")
