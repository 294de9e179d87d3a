"""Compare page: saved runs side by side, and the forum question's three readings.

Two or more runs: a metrics table and per-epoch curves. When the choice holds a softmax-trained
and a sigmoid-trained run on the same dataset: the three readings side by side with the
sentence `engine.analysis.readings.explain_readings` writes from their numbers, a reliability
chart per reading, and how often each reading calls generated non-digits "neither", with the
honest statement of what that does and does not show. The runs chosen are in the URL.
"""

from __future__ import annotations

import streamlit as st

from dashboard import charts_analysis, state
from engine.analysis.neither import check_non_digits
from engine.analysis.readings import compare_runs, explain_readings, readings_frame
from engine.errors import EngineError

CURVE_METRICS = ("val_accuracy", "val_loss", "train_loss")
NON_DIGIT_COUNT = 300


def load_runs(run_ids: list[str]) -> list:
    """The chosen runs, loaded (cached); a run that cannot be loaded gets a message."""
    loaded = []
    with st.spinner(f"Loading {len(run_ids)} runs…"):
        for run_id in run_ids:
            try:
                loaded.append(state.load_run(run_id))
            except EngineError as error:
                st.error(f"{run_id}: {error}")
    return loaded


def show_metrics(loaded: list, by_id: dict) -> None:
    st.subheader("Metrics after the last epoch")
    st.dataframe(
        charts_analysis.runs_table([by_id[run.id] for run in loaded]),
        hide_index=True,
        width="stretch",
    )
    history = charts_analysis.history_frame({run.id: run.history for run in loaded})
    st.subheader("Per epoch")
    curve_columns = st.columns(len(CURVE_METRICS))
    for column, metric in zip(curve_columns, CURVE_METRICS, strict=True):
        if metric in set(history["metric"]):
            column.altair_chart(
                charts_analysis.metric_curves_chart(history, metric), width="stretch"
            )


def show_readings(softmax_run, sigmoid_run, threshold: float) -> None:
    """The three readings, their sentence and reliability, then the non-digit check."""
    st.caption(f"Softmax-trained: {softmax_run.id} · sigmoid-trained: {sigmoid_run.id}")
    try:
        with st.spinner("Reading the validation outputs three ways…"):
            readings = compare_runs(softmax_run, sigmoid_run, threshold)
    except EngineError as error:
        st.error(str(error))
        return
    st.info(explain_readings(readings))
    st.dataframe(charts_analysis.readings_table(readings_frame(readings)), width="stretch")
    st.altair_chart(
        charts_analysis.reliability_chart(charts_analysis.reliability_frame(readings)),
        width="stretch",
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
        st.error(str(error))
        return
    st.info(check.explanation)
    st.dataframe(charts_analysis.neither_table(check.readings), hide_index=True, width="stretch")
    st.caption('"Neither" by kind of non-digit, per reading:')
    st.dataframe(
        (check.per_kind * 100).round(1).rename(columns=lambda key: f"({key}) neither %"),
        width="stretch",
    )


st.title("Compare")
st.write(
    "Put saved runs side by side. Choose one run trained with softmax (multi-class) and one "
    "trained with sigmoids (multi-label) on the same dataset to see the three readings of "
    "the same validation images."
)

summaries = [summary for summary in state.run_summaries() if summary.status == "complete"]
if len(summaries) < 2:
    st.info(
        f"Comparing needs two saved runs; there {'is' if len(summaries) == 1 else 'are'} "
        f"{len(summaries)}. Train one multi-class and one multi-label run on the same dataset."
    )
    st.page_link(state.TRAIN_PAGE, label="Train a model", icon="🏋️")
else:
    ids = [summary.id for summary in summaries]
    chosen_ids = st.multiselect(
        "Runs",
        ids,
        default=charts_analysis.default_comparison(summaries),
        help="Two or more runs; newest first.",
        **state.bind_choices(state.RUNS, ids),
    )
    threshold = st.slider(
        "Threshold for the sigmoid readings",
        min_value=0.01,
        max_value=0.99,
        value=0.5,
        step=0.01,
        **state.bind_number(state.THRESHOLD, 0.01, 0.99, integer=False),
    )
    loaded = load_runs(chosen_ids) if len(chosen_ids) >= 2 else []
    if len(loaded) < 2:
        st.info("Choose two or more runs to compare.")
    else:
        show_metrics(loaded, {summary.id: summary for summary in summaries})
        st.subheader("The three readings")
        pairing = charts_analysis.matching_pair(
            [run for run in loaded if run.mode == "multi-class"],
            [run for run in loaded if run.mode == "multi-label"],
        )
        if pairing is None:
            st.info(
                "To see the three readings, choose one multi-class (softmax) run and one "
                "multi-label (sigmoid) run trained on the same dataset."
            )
        else:
            show_readings(*pairing, float(threshold))
