"""Aligned plain-text tables, the one printer for `python -m engine runs`/`datasets` and the
benchmark's reports. No torch.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from typing import Any


def text_table(
    header: Sequence[str], rows: Sequence[Sequence[Any]], *, right: Collection[int] = ()
) -> str:
    """Each column padded to its widest cell, two spaces apart, no trailing spaces; the
    columns numbered in `right` (figures) right-aligned, the others left-aligned."""
    lines = [[str(cell) for cell in line] for line in (header, *rows)]
    widths = [max(len(line[column]) for line in lines) for column in range(len(header))]
    return "\n".join(
        "  ".join(
            cell.rjust(width) if column in right else cell.ljust(width)
            for column, (cell, width) in enumerate(zip(line, widths, strict=True))
        ).rstrip()
        for line in lines
    )
