"""What one browser tab keeps between reruns: its training job (and Compare's twin), its
uploaded dataset, Compare's "Teaching 'none'" experiment, the run chooser of the analysis
pages, and the click handlers that turn a chart or table selection into a chosen pair.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import streamlit as st

from dashboard import caches, links, visitor
from dashboard.messages import show_error, show_warnings
from engine import hosting
from engine.errors import EngineError
from engine.states import RunHealth, RunState

JOB_KEY = "lme_job_id"  # session-state key of this tab's job id (AppTest tests read it)
_UPLOADED_DATASET = "lme_uploaded_dataset"
_TWIN_FOR = "lme_twin_for"

# Predict reads at most this many uploads, and bytes, per page run (each upload is at most
# engine.images.MAX_UPLOAD_BYTES); the rest are left out, with a message, to upload again.
PREDICT_MAX_FILES = 40
PREDICT_MAX_BYTES = 40 * 1024 * 1024
PREDICT_KEPT_KEY = "lme_predict_kept"  # what Predict kept of the uploads read (tests read it)
_PREDICT_UPLOADER = "lme_predict_uploader"  # a new number empties Predict's uploader

TRAIN_FORM = "lme_train_form"
UPLOAD_CHOICE = "upload a .zip"  # the dataset option that reveals the zip uploader


def current_job() -> Any:
    """This tab's training job (engine.training_jobs.TrainingJob), or None. On a hosted server a
    reloaded page or a new tab of the same visitor finds the visitor's latest job."""
    from engine.training_jobs import get_job, jobs_of

    job = get_job(st.session_state.get(JOB_KEY))
    owner = visitor.visitor_owner()
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
    if visitor.visitor_owner() is None or url_path == "train":
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
    st.page_link(links.TRAIN_PAGE, label="See it on the Train page", icon="🏋️")


def progress_bar_until_finished(job: Any, label: Callable[[Any], str]) -> None:
    """A running job's bar, `label(progress) · seconds`, for a polling fragment; once the job
    has finished, a full rerun instead, so the page draws the outcome outside the fragment."""
    progress = job.progress()
    if progress.finished:
        st.rerun()
    st.progress(progress.fraction, text=f"{label(progress)} · {progress.elapsed:.0f} s")


def start_training(config: Any, split: Any, processes: int = 1) -> Any:
    """Start a training job for this visitor (engine.training_jobs.start_training) after the hosted
    server's checks: their own data only, their quotas, and a stop when their tab is gone."""
    from engine.training_jobs import start_training as engine_start

    owner = visitor.visitor_owner()
    limits = hosting.hosting_limits()
    if not hosting.may_use_dataset(config.data.dataset, owner):
        raise hosting.QuotaError(
            "that dataset is another visitor's upload: train on a built-in dataset or on a "
            "zip of your own (Data page)"
        )
    store = caches.run_store()
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
        links.choose_runs(select_run_ids)


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
    path = hosting.save_upload(data, visitor.visitor_owner(), hosting.hosting_limits(), name=name)
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
    from dashboard.tables import dataset_name

    uploaded = uploaded_dataset()
    if uploaded is not None and uploaded[1] == dataset:
        return uploaded[0]
    return dataset_name(dataset)


def uploaded_dataset() -> tuple[str, str] | None:
    """(file name, dataset name) of this tab's uploaded zip, if any."""
    return st.session_state.get(_UPLOADED_DATASET)


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
            st.session_state[links.PAIR] = labels_by_cell[cell]

    return choose


def pair_row_handler(table_key: str, pair_labels: Sequence[str]) -> Callable[[], None]:
    """An `on_select` callback for the ranked pair table: the selected row's pair becomes the
    chosen pair (bound to `PAIR`), as a heatmap click does."""

    def choose() -> None:
        event = st.session_state.get(table_key) or {}
        rows = (event.get("selection") or {}).get("rows") or []
        if rows and 0 <= rows[0] < len(pair_labels):
            st.session_state[links.PAIR] = pair_labels[rows[0]]

    return choose


# ---------------------------------------------------------------------------------------------
# Compare page's "Teaching 'none'" experiment (engine.jobs.start_task): the widgets' keys, the
# running task of this tab, and the last finished outcome, kept so it survives reruns.

TEACH_FORM = "lme_teach_form"
TEACH_NONE_EXAMPLES = "lme_teach_none_examples"
TEACH_HELD_OUT = "lme_teach_held_out"
TEACH_EPOCHS = "lme_teach_epochs"
TEACH_DATASET = "lme_teach_dataset"
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


def analysis_run_picker(page: str = "explore") -> Any:
    """A run chooser bound to the `run` parameter; returns the LoadedRun, or None (with a
    message and a link to the Train page) when there is none or it cannot be loaded.
    """
    # Runs stopped early kept their weights so far: they can be explored too.
    summaries = [
        s
        for s in visitor.run_summaries()
        if s.status == RunHealth.COMPLETE or s.state == RunState.STOPPED
    ]
    if not summaries:
        st.info("There is no saved run yet: train one first.")
        st.page_link(links.TRAIN_PAGE, label="Train a model", icon="🏋️")
        return None
    ids = [summary.id for summary in summaries]
    preferred = links.preferred_run() or last_run_id()
    index = ids.index(preferred) if preferred in ids else 0
    run_id = st.selectbox("Run", ids, index=index, **links.bind_choice(links.RUN, ids))
    summary = next(s for s in summaries if s.id == run_id)
    owner = (
        visitor.visitor_owner()
    )  # on a hosted server only: a private one leaves files to the user
    if owner is not None and hosting.owns(summary, owner):
        delete_run_button(summary)
    elif owner is not None and summary.owner is not None:
        st.caption("Shared with you: read-only.")
    try:
        run = visitor.load_run(run_id)
    except EngineError as error:
        show_error(error)
        return None
    show_warnings(run.warnings)
    return run


def run_warnings(run_id: str) -> list[str]:
    """A saved run's warnings, read from its folder without loading its model."""
    from engine.runs import summarize_run

    store = caches.run_store()
    try:
        return list(summarize_run(store.run_path(run_id)).warnings)
    except EngineError:
        return []


def delete_run_button(summary: Any) -> None:
    """A "Delete this run" control, with a confirmation, for a run the visitor owns."""
    with st.popover("Delete this run", icon="🗑️"):
        st.write(f"Delete `{summary.id}` for good? Share links to it stop working.")
        if st.button("Delete for good", key=f"lme_delete_{summary.id}", type="primary"):
            try:
                caches.run_store().delete_run(summary.id)
            except (EngineError, OSError) as error:
                st.error(f"Could not delete it: {error}")
                return
            links.forget_run_choice()
            st.rerun()


def predict_uploader_key() -> str:
    """The key of Predict's file uploader now; `release_predict_uploads` changes it."""
    return f"predict_uploads_{st.session_state.get(_PREDICT_UPLOADER, 0)}"


def release_predict_uploads(kept: dict) -> None:
    """Keep what Predict read from its uploads (`kept`: names, small previews, prepared
    images, no file) and give the uploader a new key, so it lets go of the files."""
    st.session_state[PREDICT_KEPT_KEY] = kept
    st.session_state[_PREDICT_UPLOADER] = st.session_state.get(_PREDICT_UPLOADER, 0) + 1


def predict_kept_uploads(run_id: str) -> dict | None:
    """What Predict kept of the uploads read for this run, or None (those read for another
    run are dropped: its preparation differs)."""
    kept = st.session_state.get(PREDICT_KEPT_KEY)
    if kept is not None and kept["run"] != run_id:
        forget_predict_uploads()
        return None
    return kept


def forget_predict_uploads() -> None:
    st.session_state.pop(PREDICT_KEPT_KEY, None)
