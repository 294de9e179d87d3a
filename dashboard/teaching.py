"""The Compare page's "Teaching 'none'" section: the forum's "none of the above" advice, run as
an experiment (engine.analysis.experiments.teach_none) and measured.

A form sets the experiment up; `engine.jobs.start_task` runs it in a worker thread the engine
manages, so the page stays live while two models train; a fragment polls its progress every
second. The finished result (or the engine's error) is kept in this tab's session state by
dashboard/session.py, so it survives reruns and page switches.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import streamlit as st

from dashboard import caches, charts_teaching, messages, session
from engine.analysis import experiments
from engine.callbacks import Callback, TrainState
from engine.config import RunConfig
from engine.datasets.dataset import DatasetSplit
from engine.errors import EngineError
from engine.jobs import TaskProgress, start_task
from engine.nondigits import NON_DIGIT_KINDS
from engine.states import JobState

POLL_SECONDS = 1.0
DIGIT_DATASETS = ("mnist-5k", "mnist")  # the sets whose images are digits, like the test's
QUICK_DATASET = "mnist-5k"
TEST_COUNT = 500  # unseen non-digits shown to both models
DEFAULT_HELD_OUT = ("letters",)
TASK_NAME = "Teaching 'none'"

ADVICE = (
    'A common answer to "what if an image is none of the classes?" is: train with a sigmoid '
    'per class and add examples of "none of the above", images whose target is all zeros. '
    "This experiment measures that advice. The same sigmoid model is trained twice on the "
    "same digits, once as is and once with generated non-digits (blank, noise, letters, "
    "shapes, strokes) as all-zero examples; then both are shown non-digits neither has seen. "
    "Kinds held out are never among the all-zero examples: they show whether saying "
    '"none" carries over to inputs unlike anything it was taught, which is what the advice '
    "is usually hoped to buy."
)


def dataset_choices(runs: Sequence) -> dict[str, str]:
    """The digit sets the experiment may train on, each with what it costs: mnist-5k first
    (the default: two models in seconds), then the compared runs' digit set when it is another
    one (the full MNIST of the demo runs: minutes per model on a CPU, and a shared server's
    CPU)."""
    choices = {QUICK_DATASET: "4,000 training digits: seconds per model"}
    for run in runs:
        dataset = run.config.data.dataset
        if dataset in DIGIT_DATASETS and dataset not in choices:
            choices[dataset] = (
                "the compared runs' digits, 60,000 training digits: minutes per model on a CPU"
            )
    return choices


def run_experiment(
    config: RunConfig,
    none_examples: int,
    held_out_kinds: tuple[str, ...],
    split: DatasetSplit,
    progress: Callable[[str, float], None],
) -> experiments.TeachingNone:
    """teach_none, with a progress bar that moves with every batch: teach_none reports the
    start of each model's training (at 0 and 1/2); each training fills its half."""
    stage = {"message": "Starting", "start": 0.0}

    def report(message: str, fraction: float) -> None:
        stage.update(message=message, start=fraction)
        progress(message, fraction)

    class BatchProgress(Callback):
        def after_batch(self, state: TrainState) -> None:
            progress(
                f"{stage['message']}: epoch {state.epoch} of {state.epochs}",
                float(stage["start"]) + state.fraction_done / 2,
            )

    return experiments.teach_none(
        config,
        none_examples=none_examples,
        test_count=TEST_COUNT,
        split=split,
        callbacks=[BatchProgress()],
        progress=report,
        held_out_kinds=held_out_kinds,
    )


@st.fragment(run_every=POLL_SECONDS)
def poll_experiment() -> None:
    """The experiment's progress bar, redrawn every second; a full rerun once it ends."""
    running = session.teaching_task()
    if running is None:
        return
    task, description = running
    session.progress_bar_until_finished(task, lambda progress: progress.message)
    st.caption(f"Running: {messages.plain(description)}")


def show_outcome(progress: TaskProgress, description: str) -> None:
    """The finished experiment: the engine's sentence, the table, the chart; or its error."""
    if progress.state != JobState.DONE:
        messages.show_error(progress.error or "The experiment did not finish.")
        return
    result = progress.result
    st.caption(f"Last experiment: {messages.plain(description)} · {progress.elapsed:.0f} s")
    st.info(result.explanation)
    st.dataframe(
        charts_teaching.results_table(result.results, result.none_examples), width="stretch"
    )
    frame = charts_teaching.neither_by_kind(result.per_kind, result.none_examples)
    st.altair_chart(charts_teaching.neither_by_kind_chart(frame), width="stretch")
    if result.held_out_kinds:
        st.caption(
            f"Lighter, outlined bars, marked (held out): {', '.join(result.held_out_kinds)}, never "
            "among the all-zero training examples. They are the honest test; the other kinds "
            f"were taught, but these {result.test_count} images are new ones of the same kinds."
        )
    else:
        st.caption("Every kind was taught: these are new images of kinds the model saw as 'none'.")


def show_teaching_none(runs: Sequence) -> None:
    """The whole section: the advice, the form, the progress while it runs, the outcome."""
    st.divider()
    st.subheader('Teaching "none"')
    st.write(ADVICE)
    session.take_teaching_outcome()
    running = session.teaching_task()
    defaults = RunConfig()
    choices = dataset_choices(runs)
    with st.form(session.TEACH_FORM, border=True):
        dataset = st.selectbox(
            "Digits to train on",
            list(choices),
            format_func=lambda name: f"{name} ({choices[name]})",
            help="Both models train on these digits and are scored on their validation part.",
            key=session.TEACH_DATASET,
        )
        count_column, kinds_column, epochs_column = st.columns(3)
        none_examples = count_column.number_input(
            "All-zero examples to add",
            1,
            5000,
            1000,
            step=250,
            help="Generated non-digits of the taught kinds, each with a target of all zeros.",
            key=session.TEACH_NONE_EXAMPLES,
        )
        held_out = kinds_column.multiselect(
            "Kinds held out of training",
            list(NON_DIGIT_KINDS),
            default=list(DEFAULT_HELD_OUT),
            help="Never among the all-zero examples; measured apart. Leave at least one "
            "kind to teach.",
            key=session.TEACH_HELD_OUT,
        )
        epochs = epochs_column.number_input(
            "Epochs (each model)", 1, 50, defaults.train.epochs, key=session.TEACH_EPOCHS
        )
        st.caption(
            f"Model: {defaults.model.name} · both models are "
            f"tested on the same {TEST_COUNT} generated non-digits, none seen in training."
        )
        submitted = st.form_submit_button(
            "Run the experiment", type="primary", icon="🧪", disabled=running is not None
        )
    if submitted and running is None:
        description = (
            f"{dataset} · {int(epochs)} epochs per model · {int(none_examples):,} all-zero "
            f"examples · held out: {', '.join(held_out) or 'nothing'}"
        )
        try:
            config = defaults.with_changes(dataset=dataset, epochs=int(epochs))
            with st.spinner(f"Loading {dataset}…"):
                split = caches.load_dataset(config.data)
            task = start_task(
                run_experiment,
                config,
                int(none_examples),
                tuple(held_out),
                split,
                name=TASK_NAME,
            )
        except EngineError as error:
            messages.show_error(error)
        else:
            session.remember_teaching_task(task, description)
            running = session.teaching_task()
    if running is not None:
        poll_experiment()
    outcome = session.teaching_outcome()
    if outcome is not None:
        show_outcome(*outcome)
    elif running is None:
        st.caption(
            "Two models train one after the other: on mnist-5k, seconds rather than minutes."
        )
