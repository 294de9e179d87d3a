"""Compare page: saved runs side by side, and the forum question's three readings.

Two or more runs: a metrics table and per-epoch curves. When the choice holds a softmax-trained
and a sigmoid-trained run on the same dataset: the three readings side by side with the
sentence `engine.analysis.readings.explain_readings` writes from their numbers, a reliability
chart per reading, and how often each reading calls generated non-digits "neither", with the
honest statement of what that does and does not show. The runs chosen are in the URL.
Below them, the "Teaching 'none'" experiment (dashboard/teaching.py).

A fresh copy opens with the shipped demo pair. When the chosen runs hold only one of the two
modes, the page offers the other mode's twin of a chosen run: an existing run of the same
settings, or a background training (engine.training_jobs) whose progress a fragment polls; the
twin is chosen once it is saved.
"""

from __future__ import annotations

import streamlit as st

from dashboard import (
    caches,
    charts_analysis,
    links,
    messages,
    session,
    tables,
    teaching,
    twins,
    visitor,
)
from engine import modes, run_pairing
from engine.analysis.neither import check_non_digits
from engine.analysis.readings import compare_runs, explain_readings, readings_frame
from engine.errors import EngineError
from engine.states import JobState, RunHealth

CURVE_METRICS = ("val_accuracy", "val_loss", "train_loss")
POLL_SECONDS = 1.0
NON_DIGIT_COUNT = 300
MISSING = "—"  # a metric a run lacks (a softmax run has no accuracy_multi); Streamlit: "None"


def load_runs(run_ids: list[str]) -> list:
    """The chosen runs, loaded (cached); a run that cannot be loaded gets a message."""
    loaded = []
    with st.spinner(f"Loading {len(run_ids)} runs…"):
        for run_id in run_ids:
            try:
                loaded.append(visitor.load_run(run_id))
            except EngineError as error:
                messages.show_error(f"{run_id}: {error}")
    for run in loaded:
        messages.show_warnings(run.warnings, run.id)
    return loaded


def show_metrics(loaded: list, by_id: dict) -> None:
    st.subheader("Metrics after the last epoch")
    st.dataframe(
        tables.runs_table([by_id[run.id] for run in loaded]),
        hide_index=True,
        width="stretch",
        placeholder=MISSING,
    )
    history = tables.history_frame({run.id: run.history for run in loaded})
    st.subheader("Per epoch")
    curve_columns = st.columns(len(CURVE_METRICS))
    for column, metric in zip(curve_columns, CURVE_METRICS, strict=True):
        if metric in set(history["metric"]):
            column.altair_chart(
                charts_analysis.metric_curves_chart(history, metric), width="stretch"
            )


def show_readings(softmax_run, sigmoid_run, threshold: float) -> None:
    """The three readings, their sentence and reliability, then the non-digit check."""
    st.caption(
        f"Softmax-trained: {messages.plain(softmax_run.id)} · "
        f"sigmoid-trained: {messages.plain(sigmoid_run.id)}"
    )
    try:
        with st.spinner("Reading the validation outputs three ways…"):
            readings = compare_runs(softmax_run, sigmoid_run, threshold)
    except EngineError as error:
        messages.show_error(error)
        return
    st.info(explain_readings(readings))
    frame = readings_frame(readings)
    st.caption(
        "Each row is one metric for all three readings: exact match asks whether the set of "
        "classes decided is exactly the truth, argmax accuracy whether the top class is right."
    )
    st.caption(" · ".join(f"**({key})** {title}" for key, title in frame.loc["title"].items()))
    st.dataframe(
        tables.readings_table(frame.drop(index="title")),
        width="stretch",
        height="content",
    )
    st.altair_chart(
        charts_analysis.reliability_chart(tables.reliability_frame(readings)),
        width="stretch",
    )
    st.caption(
        "Each point is a bin of images by the reading's top probability (confidence) against "
        "how often that top class is right; on the dashed line the two agree. Bins holding "
        "few images jump about."
    )

    st.subheader("Images that are no digit")
    st.write(
        'One sigmoid per class makes "none of the classes" possible, but it does not by '
        "itself detect inputs unlike the training data: a sigmoid model can still call a "
        "letter a 7 with confidence. So here it is measured, not promised, on generated "
        "non-digits (blank, noise, letters, shapes, strokes) that neither model has seen."
    )
    try:
        with st.spinner(f"Showing {NON_DIGIT_COUNT} generated non-digits to both models…"):
            check = check_non_digits([softmax_run, sigmoid_run], threshold, count=NON_DIGIT_COUNT)
    except EngineError as error:
        messages.show_error(error)
        return
    st.info(check.explanation)
    st.dataframe(tables.neither_table(check.readings), hide_index=True, width="stretch")
    st.caption('"Neither" by kind of non-digit, per reading:')
    st.dataframe(
        (check.per_kind * 100).round(1).rename(columns=lambda key: f"({key}) neither %"),
        width="stretch",
    )


def take_finished_twin() -> None:
    """When this tab's twin training has ended: choose it beside the runs chosen before."""
    twin = session.twin_job()
    if twin is None or not twin[0].progress().finished:
        return
    job, chosen_before = twin
    progress = job.progress()
    if progress.state == JobState.DONE and progress.run_id:
        session.finish_twin([*chosen_before, progress.run_id])
        st.success(
            f"The {job.config.train.mode} twin is trained and chosen: "
            f"{messages.plain(progress.run_id)}."
        )
    else:
        session.finish_twin(None)
        reason = progress.error or f"stopped after {progress.epoch} of {progress.epochs} epochs"
        messages.show_error(f"The {job.config.train.mode} twin was not trained: {reason}.")


@st.fragment(run_every=POLL_SECONDS)
def twin_progress() -> None:
    """The twin's progress bar, redrawn every second; a full rerun once it ends."""
    twin = session.twin_job()
    if twin is None:
        return
    job, _ = twin
    session.progress_bar_until_finished(
        job,
        lambda progress: (
            f"Training the {job.config.train.mode} twin: epoch "
            f"{min(progress.epoch + 1, progress.epochs)} of {progress.epochs}"
        ),
    )
    if st.button("Stop the twin", icon="⏹️"):
        job.stop()


def offer_twin(run, chosen_ids: list[str], summaries: list) -> None:
    """No softmax/sigmoid pair among the chosen runs: offer `run`'s twin in the other mode,
    a saved run with the same data, model and epochs, else a training; none for a run whose
    data is multi-label, which softmax cannot train."""
    if twins.has_no_softmax_twin(run):
        st.info(
            "The three readings need a softmax-trained and a sigmoid-trained run of the same "
            f"dataset. {twins.NO_SOFTMAX_TWIN} Compare runs of a single-label set (mnist-5k, "
            "or class folders) to see them."
        )
        return
    missing = modes.other_mode(run.mode)
    saved = run_pairing.saved_twin(run, summaries)
    if saved is not None:
        st.info(
            f"The three readings need a softmax-trained and a sigmoid-trained run of the same "
            f"dataset. `{saved}` is `{run.id}`'s {missing} twin."
        )
        if st.button(f"Compare with {saved}", icon="⚖️"):
            links.choose_runs([*chosen_ids, saved])
            st.rerun()
        return
    activation = "a softmax" if missing == "multi-class" else "one sigmoid per class"
    st.info(
        "The three readings need a softmax-trained (multi-class) and a sigmoid-trained "
        f"(multi-label) run of the same dataset. Choose one more run, or train `{run.id}`'s "
        f"twin: the same data, model and settings, trained {missing} ({activation})."
    )
    if session.twin_job() is not None:
        twin_progress()
        return
    busy = session.job_running()
    if st.button(
        f"Train the {missing} twin",
        icon="🏋️",
        disabled=busy,
        help="Trains in the background; the twin is chosen here when it is saved.",
    ):
        try:
            config = run.config.with_changes(mode=missing)
            job = session.start_training(config, caches.load_dataset(config.data))
        except EngineError as error:
            messages.show_error(error)
            return
        session.start_twin(job, chosen_ids)
        st.rerun()
    if busy:
        st.caption("This tab is training already (see Train): the twin can start after it.")


st.title("Compare")
st.write(
    "Put saved runs side by side. Choose one run trained with softmax (multi-class) and one "
    "trained with sigmoids (multi-label) on the same dataset to see the three readings of "
    "the same validation images."
)

take_finished_twin()
loaded: list = []
summaries = [summary for summary in visitor.run_summaries() if summary.status == RunHealth.COMPLETE]
if not summaries:
    st.info("There is no saved run to compare yet: train one multi-class and one multi-label run.")
    st.page_link(links.TRAIN_PAGE, label="Train a model", icon="🏋️")
else:
    ids = [summary.id for summary in summaries]
    chosen_ids = st.multiselect(
        "Runs",
        ids,
        default=run_pairing.default_comparison(summaries),
        help="Newest first; the shipped demo runs last.",
        **links.bind_choices(links.RUNS, ids),
    )
    threshold = links.threshold_slider("Threshold for the sigmoid readings")
    loaded = load_runs(chosen_ids)
    if not loaded:
        st.info("Choose the runs to compare: a softmax-trained and a sigmoid-trained one.")
    else:
        if len(loaded) >= 2:
            show_metrics(loaded, {summary.id: summary for summary in summaries})
        st.subheader("The three readings")
        pairing = run_pairing.matching_pair(
            [run for run in loaded if run.mode == "multi-class"],
            [run for run in loaded if run.mode == "multi-label"],
        )
        if pairing is None:
            offer_twin(loaded[0], chosen_ids, summaries)
        else:
            show_readings(*pairing, float(threshold))

teaching.show_teaching_none(loaded)
