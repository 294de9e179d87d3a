"""Who the visitor is on a hosted server (LME_PUBLIC=1): their secret key (in the address bar
and a cookie), the runs they may see (their own, the demos and runs shared with them), and
the periodic removal of expired runs and uploads. On a private server everything is
everyone's: `visitor_owner()` is None and every run is listed.
"""

from __future__ import annotations

import threading
import time
from typing import Any

import streamlit as st

from dashboard import caches
from engine import hosting
from engine.errors import RunError

VISITOR = "visitor"  # query parameter: a hosted server's visitor key (never in a share link)
SHARE = "share"  # query parameter: share tokens, each opens one private run, read-only
_VISITOR_KEY_STATE = "lme_visitor_key"
_COOKIE_SET = "lme_visitor_cookie_set"
VISITOR_COOKIE = "lme_visitor"
_SHARED_RUNS = "lme_shared_runs"
_HOUSEKEEPING_SECONDS = 600.0  # how often expired runs and uploads are looked for


def begin_visit() -> None:
    """Called by app.py at the top of every full rerun: on a hosted server keep the visitor's
    key in the address bar (a reload keeps it) and in a cookie, and remember the runs a share
    link opened."""
    key = _visitor_key()
    if key is not None and st.query_params.get(VISITOR) != key:
        st.query_params[VISITOR] = key
    if key is not None:
        _keep_visitor_cookie(key)
    _remember_shared_runs()


def _visitor_key() -> str | None:
    """This visitor's secret key on a hosted server (from the link, else from the browser's
    cookie, else a new one), or None on a private server."""
    if not hosting.is_public():
        return None
    key = st.session_state.get(_VISITOR_KEY_STATE)
    if key is None:
        raw = st.query_params.get(VISITOR)
        if not hosting.is_visitor_key(raw):
            raw = st.context.cookies.get(VISITOR_COOKIE)
        key = raw if hosting.is_visitor_key(raw) else hosting.new_visitor_key()
        st.session_state[_VISITOR_KEY_STATE] = key
    return key


def _keep_visitor_cookie(key: str) -> None:
    """Once per session, when the browser lacks it: a cookie with the visitor's key, so a new
    tab opened without the link (a bare address, a page link) is the same visitor. Streamlit
    cannot set a cookie from the server; a script in a zero-height component can, and its
    iframe shares the app's origin."""
    if st.context.cookies.get(VISITOR_COOKIE) == key or st.session_state.get(_COOKIE_SET) == key:
        return
    st.session_state[_COOKIE_SET] = key
    seconds = int(hosting.hosting_limits().max_age_hours * 3600)
    script = (
        f"<script>document.cookie = '{VISITOR_COOKIE}={key}; path=/; max-age={seconds}; "
        "SameSite=Lax';</script>"
    )
    from streamlit.components.v1 import html

    with st.sidebar:
        html(script, height=0)


def visitor_owner() -> str | None:
    """The owner id of this visitor's runs, jobs and uploads; None on a private server, where
    everything is everyone's."""
    key = _visitor_key()
    return None if key is None else hosting.owner_of(key)


def _remember_shared_runs() -> None:
    """Runs a share link's tokens open are kept for the session, so they stay visible when the
    visitor moves between pages."""
    tokens = st.query_params.get_all(SHARE)
    if not tokens or visitor_owner() is None:
        return
    store = caches.run_store()
    private = [s.id for s in store.list_runs() if s.owner is not None]
    opened = hosting.shared_runs(store.root, private, tokens)
    st.session_state[_SHARED_RUNS] = st.session_state.get(_SHARED_RUNS, set()) | opened


class _Housekeeping:
    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.last = 0.0


@st.cache_resource(show_spinner=False)
def _housekeeping() -> _Housekeeping:
    return _Housekeeping()


def housekeeping() -> None:
    """On a hosted server, at most every few minutes: remove visitors' runs and uploads older
    than the age limit (engine.hosting.remove_expired)."""
    limits = hosting.hosting_limits()
    if not limits.public:
        return
    keeper = _housekeeping()
    if time.monotonic() - keeper.last < _HOUSEKEEPING_SECONDS or not keeper.lock.acquire(False):
        return
    try:
        keeper.last = time.monotonic()
        hosting.remove_expired(caches.run_store(), limits)
    finally:
        keeper.lock.release()


def run_summaries() -> list[Any]:
    """Every saved run this visitor may see, newest first (listing is cheap, so never cached).
    On a hosted server: the demos, their own runs and runs shared with them."""
    owner = visitor_owner()
    summaries = caches.run_store().list_runs()
    if owner is None:
        return summaries
    shared = st.session_state.get(_SHARED_RUNS, set())
    return [s for s in summaries if hosting.can_see(s, owner, shared)]


def load_run(run_id: str) -> Any:
    """A saved run (engine.runs.LoadedRun), cached until its run.json changes; on a hosted
    server only one this visitor may see (others are unknown, as if they did not exist)."""
    owner = visitor_owner()
    if owner is not None:
        from engine.runs import summarize_run

        summary = summarize_run(
            caches.run_store().run_path(run_id), run_id=run_id, read_only=run_id in _demo_ids()
        )
        shared = st.session_state.get(_SHARED_RUNS, set())
        if not hosting.can_see(summary, owner, shared):
            raise RunError(f"unknown run {run_id!r}: it is not one of yours or shared with you")
    return caches.cached_run(run_id)


def _demo_ids() -> set[str]:
    from engine.runs import DEMO_RUNS

    return set(DEMO_RUNS)
