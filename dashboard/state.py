"""Everything the dashboard keeps between reruns, in one place: caches, session state, and the
URL query parameters that make a view shareable.

Pages never touch `st.session_state`, `st.query_params` or a cache decorator directly: they
call the named accessors here. Widgets that belong in a shared link are bound to a query
parameter (Streamlit's `bind="query-params"`); the `bind_*` helpers first check the value a
link carries and, when it is not valid, say so on the page before the widget falls back to
its default.
"""

from __future__ import annotations

import math
import re
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Sequence
from typing import Any, NoReturn
from urllib.parse import urlencode

import streamlit as st

from engine import hosting
from engine.config import DataConfig, ModelConfig, TrainConfig
from engine.errors import EngineError, RunError

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
VISITOR = "visitor"  # a hosted server's visitor key (never put in a share link)
SHARE = "share"  # share tokens: each opens one private run, read-only

# Session state, private to this module.
JOB_KEY = "lme_job_id"  # session-state key of this tab's job id (AppTest tests read it)
_UPLOADED_DATASET = "lme_uploaded_dataset"
_BOUND_THIS_RUN = "lme_bound_params"
_HANDED_OVER = "lme_handed_over"
_PREFERRED_RUN = "lme_preferred_run"
_TWIN_FOR = "lme_twin_for"

# Predict reads at most this many uploads, and bytes, per page run (each upload is at most
# engine.images.MAX_UPLOAD_BYTES); the rest wait, with a message, until some are removed.
PREDICT_MAX_FILES = 40
PREDICT_MAX_BYTES = 40 * 1024 * 1024

TRAIN_FORM = "lme_train_form"
UPLOAD_CHOICE = "upload a .zip"  # the dataset option that reveals the zip uploader


# ---------------------------------------------------------------------------------------------
# Query-parameter binding


class PageEnded(Exception):
    """Raised by `end_page()`; app.py catches it, then draws the share link."""


def end_page() -> NoReturn:
    """Stop drawing this page here, like `st.stop()`, but the "Share this view" link is still
    drawn. Pages use this, never `st.stop()`: after `st.stop()` nothing more can be drawn in
    that run, not even from a `finally` block.
    """
    raise PageEnded


def begin_script_run() -> None:
    """Called by app.py at the top of every full rerun: forget last run's bound parameters,
    and on a hosted server keep the visitor's key in the address bar (a reload keeps it)."""
    st.session_state[_BOUND_THIS_RUN] = {}
    key = _visitor_key()
    if key is not None and st.query_params.get(VISITOR) != key:
        st.query_params[VISITOR] = key
    if key is not None:
        _keep_visitor_cookie(key)
    _remember_shared_runs()


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
    root = run_store().root
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


# ---------------------------------------------------------------------------------------------
# Caches shared by every session (datasets, models, the run store)


class _SmallCache:
    """A few recent values by key, safe across sessions' threads; big datasets are evicted."""

    def __init__(self, size: int) -> None:
        self.size = size
        self.values: OrderedDict[Any, Any] = OrderedDict()
        self.lock = threading.Lock()

    def get(self, key: Any) -> Any:
        with self.lock:
            if key in self.values:
                self.values.move_to_end(key)
                return self.values[key]
        return None

    def put(self, key: Any, value: Any) -> None:
        with self.lock:
            self.values[key] = value
            self.values.move_to_end(key)
            while len(self.values) > self.size:
                self.values.popitem(last=False)


@st.cache_resource(show_spinner=False)
def _dataset_cache() -> _SmallCache:
    # A plain container under cache_resource, not a cached loader: the loader reports progress
    # into page elements, which Streamlit's cache replay cannot do.
    return _SmallCache(size=3)


def dataset_choices() -> list[Any]:
    """The engine's datasets (offline default first), as DatasetInfo records."""
    from engine.data import available_datasets

    return list(available_datasets())


def is_dataset_loaded(config: DataConfig) -> bool:
    return _dataset_cache().get(config) is not None


def load_dataset(config: DataConfig, progress: Callable[[str, float], None] | None = None) -> Any:
    """The DatasetSplit for `config`, loaded once and shared; EngineError when it cannot be."""
    from engine.data import load_dataset as engine_load

    cache = _dataset_cache()
    split = cache.get(config)
    if split is None:
        if config.dataset.startswith(("zip:", "folder:")):  # uploads: heavy, so in the queue
            from engine.jobs import work_slot

            def waiting(place: int) -> None:
                if progress is not None:  # a page element: raises when the visitor left
                    ahead = "next" if place == 1 else f"{place - 1} ahead"
                    progress(f"Waiting for a free slot on the server ({ahead})", 0.0)

            with work_slot(on_wait=waiting):
                split = engine_load(config, progress=progress)
        else:
            split = engine_load(config, progress=progress)
        cache.put(config, split)
    return split


@st.cache_resource(show_spinner="Building the model...", max_entries=16)
def head_change(config: ModelConfig, num_classes: int, image_shape: tuple[int, ...]) -> Any:
    """The head before and after reconfiguration (engine.overview.HeadChange), cached."""
    from engine.overview import head_change as engine_head_change

    return engine_head_change(config, num_classes, tuple(image_shape))


@st.cache_resource(show_spinner="Running the loss on one batch...", max_entries=16)
def _forum_error(config: DataConfig, batch_size: int) -> Any:
    from engine.lessons import reproduce_forum_error

    return reproduce_forum_error(load_dataset(config), batch_size=batch_size)


def forum_error(config: DataConfig, batch_size: int) -> Any:
    """The forum's error reproduced on one real batch (engine.lessons.ForumError), cached."""
    return _forum_error(config, batch_size)


@st.cache_resource(show_spinner=False)
def _device_description(name: str) -> str:
    from engine.device import describe_device, resolve_device

    return describe_device(resolve_device(name))


def training_device_description(train: TrainConfig | None = None) -> str:
    """Where a training with `train` (default: the engine's TrainConfig()) would run: the GPU,
    or the CPU with the threads training uses there, `cpu_threads` (0 = the training queue's
    share of the cores, engine.hosting), not the process's: "CPU (1 thread for training)"."""
    train = train or TrainConfig()
    described = _device_description(train.device)
    if not described.startswith("CPU"):
        return described
    threads = train.cpu_threads or hosting.hosting_limits().threads_per_training
    return f"CPU ({threads} thread{'' if threads == 1 else 's'} for training)"


@st.cache_resource(show_spinner=False)
def _run_store(root: str) -> Any:
    from engine.runs import RunStore

    return RunStore(root)


def run_store() -> Any:
    """The run store under $LME_RUNS_DIR (or ./runs), shared by every session."""
    from engine.runs import default_runs_dir

    return _run_store(str(default_runs_dir().resolve()))


def run_summaries() -> list[Any]:
    """Every saved run this visitor may see, newest first (listing is cheap, so never cached).
    On a hosted server: the demos, their own runs and runs shared with them."""
    owner = visitor_owner()
    summaries = run_store().list_runs()
    if owner is None:
        return summaries
    shared = st.session_state.get(_SHARED_RUNS, set())
    return [s for s in summaries if hosting.can_see(s, owner, shared)]


def storage_problem() -> str | None:
    """Why runs cannot be saved on this server (the runs folder is a file or read-only)."""
    return run_store().storage_problem()


@st.cache_resource(show_spinner="Loading the run...", max_entries=8)
def _loaded_run(root: str, run_id: str, stamp: float) -> Any:
    from engine.runs import RunStore

    return RunStore(root).load_run(run_id)


def load_run(run_id: str) -> Any:
    """A saved run (engine.runs.LoadedRun), cached until its run.json changes; on a hosted
    server only one this visitor may see (others are unknown, as if they did not exist)."""
    store = run_store()
    path = store.run_path(run_id)
    owner = visitor_owner()
    if owner is not None:
        from engine.runs import summarize_run

        summary = summarize_run(path, run_id=run_id, read_only=run_id in _demo_ids())
        shared = st.session_state.get(_SHARED_RUNS, set())
        if not hosting.can_see(summary, owner, shared):
            raise RunError(f"unknown run {run_id!r}: it is not one of yours or shared with you")
    try:
        stamp = (path / "run.json").stat().st_mtime
    except OSError:
        stamp = 0.0
    return _loaded_run(str(store.root.resolve()), run_id, stamp)


def analysis_run_picker(page: str = "explore") -> Any:
    """A run chooser bound to the `run` parameter; returns the LoadedRun, or None (with a
    message and a link to the Train page) when there is none or it cannot be loaded.
    """
    # Runs stopped early kept their weights so far: they can be explored too.
    summaries = [s for s in run_summaries() if s.status == "complete" or s.state == "stopped"]
    if not summaries:
        st.info("There is no saved run yet: train one first.")
        st.page_link(TRAIN_PAGE, label="Train a model", icon="🏋️")
        return None
    ids = [summary.id for summary in summaries]
    st.session_state.get(_HANDED_OVER, {}).pop(RUN, None)  # the default below says it already
    preferred = st.session_state.get(_PREFERRED_RUN) or last_run_id()
    index = ids.index(preferred) if preferred in ids else 0
    run_id = st.selectbox("Run", ids, index=index, **bind_choice(RUN, ids))
    summary = next(s for s in summaries if s.id == run_id)
    owner = visitor_owner()  # on a hosted server only: a private one leaves files to the user
    if owner is not None and hosting.owns(summary, owner):
        delete_run_button(summary)
    elif owner is not None and summary.owner is not None:
        st.caption("Shared with you: read-only.")
    try:
        run = load_run(run_id)
    except EngineError as error:
        show_error(error)
        return None
    show_warnings(run.warnings)
    return run


def run_warnings(run_id: str) -> list[str]:
    """A saved run's warnings, read from its folder without loading its model."""
    from engine.runs import summarize_run

    store = run_store()
    try:
        return list(summarize_run(store.run_path(run_id)).warnings)
    except EngineError:
        return []


def show_warnings(warnings: Sequence[str], run_id: str | None = None) -> None:
    """A run's warnings (e.g. "validation accuracy is at chance: the model did not learn"),
    one st.warning each, so nobody reads its answers without knowing."""
    for warning in warnings:
        text = f"{run_id}: {warning}" if run_id else warning.capitalize()
        st.warning(plain(text), icon="⚠️")


def delete_run_button(summary: Any) -> None:
    """A "Delete this run" control, with a confirmation, for a run the visitor owns."""
    with st.popover("Delete this run", icon="🗑️"):
        st.write(f"Delete `{summary.id}` for good? Share links to it stop working.")
        if st.button("Delete for good", key=f"lme_delete_{summary.id}", type="primary"):
            try:
                run_store().delete_run(summary.id)
            except (EngineError, OSError) as error:
                st.error(f"Could not delete it: {error}")
                return
            st.session_state.pop(RUN, None)
            st.session_state.pop(_PREFERRED_RUN, None)
            st.rerun()


def _demo_ids() -> set[str]:
    from engine.runs import DEMO_RUNS

    return set(DEMO_RUNS)


# ---------------------------------------------------------------------------------------------
# Hosted servers (LME_PUBLIC=1): who this visitor is, what was shared with them, clean-up

_VISITOR_KEY_STATE = "lme_visitor_key"
_COOKIE_SET = "lme_visitor_cookie_set"
VISITOR_COOKIE = "lme_visitor"
_SHARED_RUNS = "lme_shared_runs"
_HOUSEKEEPING_SECONDS = 600.0  # how often expired runs and uploads are looked for


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
    store = run_store()
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
        hosting.remove_expired(run_store(), limits)
    finally:
        keeper.lock.release()


# ---------------------------------------------------------------------------------------------
# Per-session state: the training job of this browser tab, the uploaded dataset


def current_job() -> Any:
    """This tab's training job (engine.jobs.TrainingJob), or None. On a hosted server a
    reloaded page or a new tab of the same visitor finds the visitor's latest job."""
    from engine.jobs import get_job, jobs_of

    job = get_job(st.session_state.get(JOB_KEY))
    owner = visitor_owner()
    if job is None and owner is not None:
        found = jobs_of(owner)
        job = found[0] if found else None
        if job is not None:
            st.session_state[JOB_KEY] = job.id
    if job is not None:
        job.touch()  # a page still shows it: not abandoned
    return job


def show_job_in_sidebar(url_path: str) -> None:
    """On a hosted server, every page but Train (which shows it in full) shows the visitor's
    unfinished training in the sidebar; while a page is open it keeps the job from counting
    as abandoned."""
    if visitor_owner() is None or url_path == "train":
        return
    job = current_job()
    if job is None or job.progress().finished:
        return
    with st.sidebar:
        _job_status()


@st.fragment(run_every=5.0)
def _job_status() -> None:
    job = current_job()
    if job is None:
        return
    progress = job.progress()
    if progress.finished:
        st.caption(f"Your training ended: {progress.state}.")
    elif progress.waiting:
        st.caption(f"Your training waits in the queue: place {progress.queue_position}.")
    else:
        st.caption(
            f"Your training: epoch {min(progress.epoch + 1, progress.epochs)} of {progress.epochs}."
        )
    st.page_link(TRAIN_PAGE, label="See it on the Train page", icon="🏋️")


def start_training(config: Any, split: Any, processes: int = 1) -> Any:
    """Start a training job for this visitor (engine.jobs.start_training) after the hosted
    server's checks: their own data only, their quotas, and a stop when their tab is gone."""
    from engine.jobs import start_training as engine_start

    owner = visitor_owner()
    limits = hosting.hosting_limits()
    if not hosting.may_use_dataset(config.data.dataset, owner):
        raise hosting.QuotaError(
            "that dataset is another visitor's upload: train on a built-in dataset or on a "
            "zip of your own (Data page)"
        )
    store = run_store()
    hosting.check_training_allowed(
        store,
        owner,
        config,
        len(split.train),
        split.num_classes,
        tuple(split.image_shape),
        limits,
    )
    return engine_start(
        config,
        store,
        split=split,
        processes=processes,
        owner=owner,
        abandon_after=limits.abandoned_seconds if owner is not None else None,
    )


def remember_job(job: Any) -> None:
    st.session_state[JOB_KEY] = job.id
    st.session_state.pop(_TWIN_FOR, None)  # a new job is not the Compare page's twin


def job_running() -> bool:
    """Whether this tab's training job is still going (a tab trains one job at a time)."""
    job = current_job()
    return job is not None and not job.progress().finished


def start_twin(job: Any, chosen_run_ids: Sequence[str]) -> None:
    """Remember `job` as this tab's job, training the twin of a run chosen on Compare; the
    runs chosen then are selected again, with the twin, once it is saved."""
    remember_job(job)
    st.session_state[_TWIN_FOR] = list(chosen_run_ids)


def twin_job() -> tuple[Any, list[str]] | None:
    """(job, runs chosen when it started) while this tab's job is a Compare twin."""
    chosen = st.session_state.get(_TWIN_FOR)
    job = current_job()
    return None if chosen is None or job is None else (job, list(chosen))


def finish_twin(select_run_ids: Sequence[str] | None) -> None:
    """The twin ended: forget it, and choose `select_run_ids` on Compare (None: keep)."""
    st.session_state.pop(_TWIN_FOR, None)
    if select_run_ids is not None:
        choose_runs(select_run_ids)


def choose_runs(run_ids: Sequence[str]) -> None:
    """Set Compare's run chooser (bound to `RUNS`) to `run_ids` when it is next drawn."""
    st.session_state.setdefault(_HANDED_OVER, {})[RUNS] = list(run_ids)


def last_run_id() -> str | None:
    """The run this tab trained most recently, once it is saved."""
    job = current_job()
    return job.progress().run_id if job is not None else None


def store_upload(name: str, data: bytes) -> str:
    """Keep an uploaded zip on disk under its own file name, in a folder named by its content
    (so re-uploads reuse it), and return the dataset name (`zip:PATH`) the engine loads it by.
    On a hosted server it goes to the visitor's own folder, within their quota (QuotaError
    beyond).

    Not remembered for the tab: call `remember_upload` once it has loaded, so a failed upload
    never replaces a working one.
    """
    path = hosting.save_upload(data, visitor_owner(), hosting.hosting_limits(), name=name)
    return f"zip:{path}"


def remember_upload(name: str, dataset: str) -> None:
    """This tab's uploaded dataset, once it loaded: (file name, dataset name)."""
    st.session_state[_UPLOADED_DATASET] = (name, dataset)


def save_uploaded_zip(name: str, data: bytes) -> str:
    """`store_upload` and `remember_upload` in one step (for uploads already checked)."""
    dataset = store_upload(name, data)
    remember_upload(name, dataset)
    return dataset


def forget_upload(dataset: str) -> None:
    """An uploaded zip that could not be loaded: removed from disk and from this tab."""
    hosting.discard_upload(dataset)
    remembered = st.session_state.get(_UPLOADED_DATASET)
    if remembered is not None and remembered[1] == dataset:
        st.session_state.pop(_UPLOADED_DATASET, None)


def dataset_label(dataset: str) -> str:
    """How a dataset is named on screen: an upload (or any zip:/folder: set) by its own file
    or folder name, never the server path it is kept under; built-in sets by their name."""
    from dashboard.charts_analysis import dataset_name

    uploaded = uploaded_dataset()
    if uploaded is not None and uploaded[1] == dataset:
        return uploaded[0]
    return dataset_name(dataset)


def uploaded_dataset() -> tuple[str, str] | None:
    """(file name, dataset name) of this tab's uploaded zip, if any."""
    return st.session_state.get(_UPLOADED_DATASET)


# ---------------------------------------------------------------------------------------------
# Explore page: the per-class threshold toggle's parameter, and the
# heatmap click that chooses a pair.

PER_CLASS = "per_class"


def pair_click_handler(
    chart_key: str, selection: str, labels_by_cell: dict[tuple[str, str], str]
) -> Callable[[], None]:
    """An `on_select` callback for the co-activation heatmap: a clicked cell (a, b) sets the
    pair chooser (bound to `PAIR`) to that pair's label, so the URL follows the click.

    `labels_by_cell` maps both orders of every offered pair to its label; other cells are
    ignored. Runs before the rerun, so the chooser is drawn with the new value.
    """

    def choose() -> None:
        event = st.session_state.get(chart_key) or {}
        points = (event.get("selection") or {}).get(selection) or []
        if not points:
            return
        cell = (str(points[0].get("a")), str(points[0].get("b")))
        if cell in labels_by_cell:
            st.session_state[PAIR] = labels_by_cell[cell]

    return choose


def bind_choices(param: str, options: Sequence[str]) -> dict[str, Any]:
    """Widget arguments binding a multiselect to query parameter `param` (repeated values:
    ?runs=a&runs=b); values a link carries that are not options get a notice."""
    unknown = [value for value in st.query_params.get_all(param) if value and value not in options]
    if unknown:
        shown = ", ".join(options[:4]) + (", ..." if len(options) > 4 else "")
        _notice(param, ", ".join(unknown), f"choose from {shown}")
    return _register(param, lambda values: list(values))


def pair_row_handler(table_key: str, pair_labels: Sequence[str]) -> Callable[[], None]:
    """An `on_select` callback for the ranked pair table: the selected row's pair becomes the
    chosen pair (bound to `PAIR`), as a heatmap click does."""

    def choose() -> None:
        event = st.session_state.get(table_key) or {}
        rows = (event.get("selection") or {}).get("rows") or []
        if rows and 0 <= rows[0] < len(pair_labels):
            st.session_state[PAIR] = pair_labels[rows[0]]

    return choose


# ---------------------------------------------------------------------------------------------
# Compare page's "Teaching 'none'" experiment (engine.jobs.start_task): the widgets' keys, the
# running task of this tab, and the last finished outcome, kept so it survives reruns.

TEACH_FORM = "lme_teach_form"
TEACH_NONE_EXAMPLES = "lme_teach_none_examples"
TEACH_HELD_OUT = "lme_teach_held_out"
TEACH_EPOCHS = "lme_teach_epochs"
_TEACH_TASK = "lme_teach_task"  # (task id, description of its settings)
_TEACH_OUTCOME = "lme_teach_outcome"  # (finished TaskProgress, description)


def remember_teaching_task(task: Any, description: str) -> None:
    """This tab's experiment task, with a line saying what it runs (dataset, epochs, ...)."""
    st.session_state[_TEACH_TASK] = (task.id, description)


def teaching_task() -> tuple[Any, str] | None:
    """(task, description) while this tab's experiment has been started and not yet taken."""
    from engine.jobs import get_task

    kept = st.session_state.get(_TEACH_TASK)
    task = None if kept is None else get_task(kept[0])
    return None if task is None else (task, kept[1])


def take_teaching_outcome() -> None:
    """When this tab's experiment task has finished: keep its final snapshot (result or error)
    as the outcome shown from now on, and forget the task."""
    running = teaching_task()
    if running is None:
        return
    task, description = running
    progress = task.progress()
    if progress.finished:
        st.session_state[_TEACH_OUTCOME] = (progress, description)
        st.session_state.pop(_TEACH_TASK, None)


def teaching_outcome() -> tuple[Any, str] | None:
    """(finished engine.jobs.TaskProgress, description) of this tab's last experiment."""
    return st.session_state.get(_TEACH_OUTCOME)
