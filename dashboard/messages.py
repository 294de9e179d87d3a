"""Text on the pages: user-supplied strings as plain Markdown, and the boxes that show an
engine error or a run's warnings.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any

import streamlit as st

# What Markdown (as Streamlit renders it) could read as syntax in a line of text: emphasis,
# code, links and images, HTML, headings, tables, strikethrough, $formulas$, :colour[...]
# directives; plus what GitHub-flavoured Markdown turns into links by itself.
_MARKDOWN_SYNTAX = re.compile(r"([\\`*_{}\[\]<>#|~$&@])")
_AUTOLINKS = ((re.compile(r"://"), r":\/\/"), (re.compile(r"(www)\.", re.IGNORECASE), r"\1\."))
_LINE_START = (  # a list item or a setext underline where the text begins
    (re.compile(r"^(\s*)([-+=])"), r"\1\\\2"),
    (re.compile(r"^(\s*\d+)([.)])"), r"\1\\\2"),
)


def plain(text: Any) -> str:
    """`text` as Markdown that shows it exactly as it is, never as a link, emphasis, heading,
    coloured text or formula: the marks Markdown reads as syntax are backslash-escaped (the
    rest, like the full stops and colons of a sentence, need not be), "http://" and "www."
    lose the power to become links, and line breaks become spaces.

    Every string that comes from a user (class and file names, run ids, link values, and the
    engine's messages, which quote them) goes through this before an element that renders
    Markdown (markdown, write, caption, title, subheader, info/warning/error, labels).
    """
    text = _MARKDOWN_SYNTAX.sub(r"\\\1", " ".join(str(text).splitlines()))
    for pattern, replacement in (*_AUTOLINKS, *_LINE_START):
        text = pattern.sub(replacement, text)
    return text


def show_error(error: Any) -> None:
    """An engine error (or any message quoting user input) as plain text in an error box;
    an error that has words for a visitor (no server folders) shows those."""
    st.error(plain(getattr(error, "for_visitor", None) or error))


def show_warnings(warnings: Sequence[str], run_id: str | None = None) -> None:
    """A run's warnings (e.g. "validation accuracy is at chance: the model did not learn"),
    one st.warning each, so nobody reads its answers without knowing."""
    for warning in warnings:
        text = f"{run_id}: {warning}" if run_id else warning.capitalize()
        st.warning(plain(text), icon="⚠️")
