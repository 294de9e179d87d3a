"""The URL of a view: each page's file and path, the query parameters widgets are bound to,
moving to another page with values handed over, and the "Share this view" link.

Widgets that belong in a shared link are bound to a query parameter (Streamlit's
`bind="query-params"`); the `bind_*` helpers first check the value a link carries and, when
it is not valid, say so on the page before the widget falls back to its default.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from typing import Any, NoReturn
from urllib.parse import urlencode

import streamlit as st

from dashboard import caches
from dashboard.messages import plain
from dashboard.visitor import SHARE, run_summaries, visitor_owner
from engine import hosting

# ---------------------------------------------------------------------------------------------
# Pages: the file of each page (relative to app.py) and its stable URL path.

PAGE_FILES = {
    "": "views/home.py",
    "data": "views/data.py",
    "model": "views/model.py",
    "train": "views/train.py",
    "explore": "views/explore.py",
    "compare": "views/compare.py",
    "predict": "views/predict.py",
    "forum": "views/forum.py",
}
HOME_PAGE, DATA_PAGE, MODEL_PAGE, TRAIN_PAGE = (
    PAGE_FILES[p] for p in ("", "data", "model", "train")
)
EXPLORE_PAGE, COMPARE_PAGE, PREDICT_PAGE = (
    PAGE_FILES[p] for p in ("explore", "compare", "predict")
)
FORUM_PAGE = PAGE_FILES["forum"]  # the forum's error and three questions, with your numbers

# ---------------------------------------------------------------------------------------------
# Query parameters. Each name is also the key of the widget bound to it.

DATASET = "dataset"
DOWNLOAD = "download"
MODE = "mode"
MODEL = "model"
FREEZE = "freeze"
AUGMENT = "augment"
EPOCHS = "epochs"
BATCH_SIZE = "batch"
LEARNING_RATE = "lr"
LIMIT = "limit"
NONE_EXAMPLES = "none"
RUN = "run"
RUNS = "runs"
PAIR = "pair"
THRESHOLD = "threshold"
EXAMPLE = "example"  # Predict's example image
TUNED = "tuned"  # Predict: use the per-class thresholds saved with the run
PER_CLASS = "per_class"  # Explore's per-class threshold toggle

# Session state, private to this module.
_BOUND_THIS_RUN = "lme_bound_params"
_HANDED_OVER = "lme_handed_over"
_PREFERRED_RUN = "lme_preferred_run"


class PageEnded(Exception):
    """Raised by `end_page()`; app.py catches it, then draws the share link."""


def end_page() -> NoReturn:
    """Stop drawing this page here, like `st.stop()`, but the "Share this view" link is still
    drawn. Pages use this, never `st.stop()`: after `st.stop()` nothing more can be drawn in
    that run, not even from a `finally` block.
    """
    raise PageEnded


def begin_script_run() -> None:
    """Called by app.py at the top of every full rerun: forget last run's bound parameters."""
    st.session_state[_BOUND_THIS_RUN] = {}


def _register(param: str, describe: Callable[[Any], str] = str) -> dict[str, Any]:
    bound = st.session_state.setdefault(_BOUND_THIS_RUN, {})
    bound[param] = describe
    handed_over = st.session_state.get(_HANDED_OVER, {})
    if param in handed_over:  # a value another page sent along with open_page()
        st.session_state[param] = handed_over.pop(param)
    return {"key": param, "bind": "query-params"}


def open_page(page: str, **values: Any) -> None:
    """Switch to `page` with some of its bound widgets preset (e.g. model="mlp").

    Values travel in session state, not in the link: Streamlit 1.67 does not apply a page
    link's query parameter to a widget bound to it on the page the link leads to.
    """
    st.session_state[_HANDED_OVER] = dict(values)
    if RUN in values:
        st.session_state[_PREFERRED_RUN] = values[RUN]
    # An empty mapping, not None: with None, 1.67 refuses to clear the bound parameters.
    st.switch_page(page, query_params={})


def _link_value(param: str) -> str | None:
    values = st.query_params.get_all(param)
    if len(values) > 1:  # Streamlit then falls back to the default: say so, like any bad value
        _notice(param, " and ".join(values), "give it once")
        return None
    value = st.query_params.get(param)
    return None if value is None or value == "" else str(value)


def _notice(param: str, raw: str, expected: str) -> None:
    """Say once per page view that a link's value was not usable."""
    st.warning(
        plain(
            f"The link asked for {param}={raw!r}, which is not valid here ({expected}); "
            "showing the default instead."
        ),
        icon="⚠️",
    )


def bind_choice(param: str, options: Sequence[str]) -> dict[str, Any]:
    """Widget arguments binding a choice widget (selectbox, radio) to query parameter `param`.

    Options must be plain strings: the URL carries the option itself.
    """
    raw = _link_value(param)
    if raw is not None and raw not in options:
        shown = ", ".join(options[:6]) + (", ..." if len(options) > 6 else "")
        _notice(param, raw, f"choose one of {shown}")
    return _register(param)


def bind_number(param: str, minimum: float, maximum: float, integer: bool = True) -> dict[str, Any]:
    """Widget arguments binding a number input or slider to query parameter `param`."""
    raw = _link_value(param)
    if raw is not None:
        try:
            value = float(raw)
            valid = math.isfinite(value) and minimum <= value <= maximum
            valid = valid and (not integer or value.is_integer())
        except ValueError:
            valid = False
        if not valid:
            kind = "a whole number" if integer else "a number"
            _notice(param, raw, f"{kind} from {minimum:g} to {maximum:g}")
    return _register(param)


def threshold_slider(
    label: str,
    minimum: float = 0.01,
    maximum: float = 0.99,
    step: float = 0.01,
    container: Any = st,
    **options: Any,
) -> float:
    """The sigmoid threshold slider, bound to the link's `threshold`: the slider and the
    link's check share one pair of bounds, so a link can never hold a value the slider
    refuses."""
    return container.slider(
        label,
        min_value=minimum,
        max_value=maximum,
        value=0.5,
        step=step,
        **options,
        **bind_number(THRESHOLD, minimum, maximum, integer=False),
    )


def bind_flag(param: str) -> dict[str, Any]:
    """Widget arguments binding a toggle or checkbox to query parameter `param`."""
    raw = _link_value(param)
    if raw is not None and raw.lower() not in ("true", "false"):
        _notice(param, raw, "true or false")
    return _register(param, lambda value: "true" if value else "false")


def bind_choices(param: str, options: Sequence[str]) -> dict[str, Any]:
    """Widget arguments binding a multiselect to query parameter `param` (repeated values:
    ?runs=a&runs=b); values a link carries that are not options get a notice."""
    unknown = [value for value in st.query_params.get_all(param) if value and value not in options]
    if unknown:
        shown = ", ".join(options[:4]) + (", ..." if len(options) > 4 else "")
        _notice(param, ", ".join(unknown), f"choose from {shown}")
    return _register(param, lambda values: list(values))


def choose_runs(run_ids: Sequence[str]) -> None:
    """Set Compare's run chooser (bound to `RUNS`) to `run_ids` when it is next drawn."""
    st.session_state.setdefault(_HANDED_OVER, {})[RUNS] = list(run_ids)


def preferred_run() -> str | None:
    """The run another page asked for with open_page(run=...), once the handed-over value is
    dropped (the run chooser's default says it already)."""
    st.session_state.get(_HANDED_OVER, {}).pop(RUN, None)
    return st.session_state.get(_PREFERRED_RUN)


def forget_run_choice() -> None:
    """The chosen run is gone (deleted): the run chooser falls back to its default."""
    st.session_state.pop(RUN, None)
    st.session_state.pop(_PREFERRED_RUN, None)


def share_link(url_path: str) -> str:
    """The link that reopens this page with the current values of its bound widgets."""
    base = (st.context.url or "http://localhost:8501").rstrip("/")
    for path in PAGE_FILES:  # st.context.url may still end in the page's path
        if path and base.endswith("/" + path):
            base = base[: -len(path) - 1]
    bound = st.session_state.get(_BOUND_THIS_RUN, {})
    params = {}
    for param, describe in bound.items():
        value = st.session_state.get(param)
        if value is not None:
            params[param] = describe(value)
    tokens = _share_tokens(params)
    if tokens:
        params[SHARE] = tokens
    link = f"{base}/{url_path}" if url_path else f"{base}/"
    return f"{link}?{urlencode(params, doseq=True)}" if params else link


def _share_tokens(params: dict[str, Any]) -> list[str]:
    """On a hosted server: a token for each private run the link shows, so whoever opens it
    sees those runs (read-only) and nothing else of this visitor's."""
    if visitor_owner() is None:
        return []
    shown = params.get(RUN), params.get(RUNS)
    ids = [shown[0]] if isinstance(shown[0], str) else []
    ids += [run_id for run_id in shown[1] or [] if isinstance(run_id, str)]
    private = {s.id for s in run_summaries() if s.owner is not None and not s.read_only}
    root = caches.run_store().root
    return [hosting.share_token(root, run_id) for run_id in ids if run_id in private]


def show_share_link(url_path: str) -> None:
    """The "Share this view" control: the link to copy (app.py puts it in the sidebar)."""
    with st.expander("Share this view"):
        st.caption("Copy this link: it opens the same page with the same choices.")
        link = share_link(url_path)
        st.code(link, language=None, wrap_lines=True)
        if visitor_owner() is not None:
            if f"{SHARE}=" in link:
                st.caption(
                    "Anyone with this link can open the run it shows, read-only; your other "
                    "runs and uploads stay private."
                )
            st.caption(
                "Your own runs are private: the address bar holds your visitor key, so share "
                "this link, not the address bar's. Runs and uploads are removed after "
                f"{hosting.hosting_limits().max_age_hours:g} hours."
            )
