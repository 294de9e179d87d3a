"""The one text-table printer: columns as wide as their widest cell, figures right-aligned when
asked, and no trailing spaces (so a table pastes cleanly)."""

from __future__ import annotations

from engine.text_table import text_table


def test_columns_align_and_lines_end_without_spaces() -> None:
    text = text_table(("id", "status", "acc"), [("a", "complete", "98.50%"), ("long-id", "", "-")])
    assert text.splitlines() == [
        "id       status    acc",
        "a        complete  98.50%",
        "long-id            -",
    ]


def test_figures_can_be_right_aligned() -> None:
    text = text_table(("name", "images"), [("mnist", 5000), ("two-digits", 12)], right={1})
    assert text.splitlines() == ["name        images", "mnist         5000", "two-digits      12"]


def test_a_header_alone_is_a_table_too() -> None:
    assert text_table(("name", "offline"), []) == "name  offline"
