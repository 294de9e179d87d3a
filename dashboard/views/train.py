"""Train page: a form that starts a training job in the background, and a fragment that polls
it every second for the progress bar and the live loss and accuracy curves.

The job runs in a worker thread owned by engine.jobs, so the page never freezes and a page
switch or rerun does not stop it; this tab remembers its job id in dashboard.session.
"""

from __future__ import annotations

import streamlit as st

from dashboard import caches, charts, glossary, links, messages, session, twins, visitor
from engine.config import DataConfig, ModelConfig, RunConfig, TrainConfig
from engine.errors import EngineError
from engine.labels import LABEL_MODES
from engine.metric_names import metric_title
from engine.model_names import available_models
from engine.models import freeze_warning
from engine.runs import LoadedRun
from engine.states import JobState
from engine.training_jobs import JobProgress, TrainingJob, default_processes

POLL_SECONDS = 1.0
WAITING_POLL_SECONDS = 3.0
# The final metrics shown, in this order (named by engine.metric_names).
HEADLINE = (
    "val_accuracy",
    "val_accuracy_multi",
    "val_exact_match",
    "val_macro_f1",
    "val_loss",
    "train_loss",
)
# A run on data whose images carry several labels leads with the multi-label metrics, as
# Explore does: argmax accuracy (one winner) says little when two classes are both right.
SEVERAL_LABELS_HEADLINE = (
    "val_exact_match",
    "val_macro_f1",
    "val_accuracy_multi",
    "val_loss",
    "train_loss",
)

st.title("Train")
st.write(
    "Train a model in either label mode. Training runs in the background: the curves update "
    "after every epoch, you can switch pages and come back, and the run is saved when it ends."
)

job = session.current_job()
busy = job is not None and not job.progress().finished
storage_problem = caches.storage_problem()
if storage_problem:
    st.error(f"Trainings cannot be saved on this server: {storage_problem}.")
# Every default of the form is the engine's (engine.config), so the dashboard and the CLI
# train the same thing when nothing is changed.
defaults = RunConfig()
datasets = [info.name for info in caches.dataset_choices()]  # torchvision sets once downloaded
uploaded = session.uploaded_dataset()
if uploaded is not None:
    datasets.append(uploaded[1])
models = available_models()

with st.form(session.TRAIN_FORM):
    left, right = st.columns(2)
    with left:
        dataset = st.selectbox(
            "Dataset",
            datasets,
            index=datasets.index(defaults.data.dataset) if defaults.data.dataset in datasets else 0,
            format_func=session.dataset_label,  # an upload by its own file name
            **links.bind_choice(links.DATASET, datasets),
        )
        mode = st.radio(
            "Label mode",
            list(LABEL_MODES),
            index=LABEL_MODES.index(defaults.train.mode),
            horizontal=True,
            help="multi-class: softmax + cross-entropy (fastai: CategoryBlock, "
            "CrossEntropyLossFlat). multi-label: one-hot targets, a sigmoid per class, binary "
            "cross-entropy (fastai: MultiCategoryBlock, BCEWithLogitsLossFlat).",
            **links.bind_choice(links.MODE, list(LABEL_MODES)),
        )
        name = st.selectbox(
            "Model",
            models,
            index=models.index(defaults.model.name),
            **links.bind_choice(links.MODEL, models),
        )
        frozen = st.toggle(
            "Freeze the body (train the head only)",
            value=defaults.model.freeze_body,
            help="Only useful with pretrained weights, which this page does not load: a "
            "random body gives the head random features to learn from.",
            **links.bind_flag(links.FREEZE),
        )
        augment = st.toggle(
            "Augment: random rotation, scale, shear, shift and stroke width",
            value=defaults.train.augment,
            help="Each training image is moved, turned, zoomed and its strokes made thicker or "
            "thinner at random, every epoch anew. Slower per epoch; on the full MNIST it makes "
            "the model read digits written and photographed by other people.",
            **links.bind_flag(links.AUGMENT),
        )
    with right:
        epochs = st.number_input(
            "Epochs", 1, 100, defaults.train.epochs, **links.bind_number(links.EPOCHS, 1, 100)
        )
        batch_size = st.number_input(
            "Batch size",
            2,  # batch norm learns nothing from batches of one image
            4096,
            defaults.train.batch_size,
            **links.bind_number(links.BATCH_SIZE, 2, 4096),
        )
        lr = st.number_input(
            "Learning rate (peak)",
            1e-6,
            1.0,
            defaults.train.lr,
            format="%.4f",
            step=1e-4,
            **links.bind_number(links.LEARNING_RATE, 1e-6, 1.0, integer=False),
        )
        limit = st.number_input(
            "Use at most this many images (0 = all)",
            0,
            1_000_000,
            defaults.data.limit or 0,
            step=500,
            help="A quick look: fewer images train faster.",
            **links.bind_number(links.LIMIT, 0, 1_000_000),
        )
        none_examples = st.number_input(
            "Add generated non-digits labelled 'none' (multi-label only)",
            0,
            5000,
            defaults.data.none_examples,
            step=250,
            help="Blank, noise, letters and shapes with all-zero targets, so the sigmoids "
            "learn to say 'none of the classes'.",
            **links.bind_number(links.NONE_EXAMPLES, 0, 5000),
        )
    freezing = freeze_warning(ModelConfig(name=name, freeze_body=frozen))
    if freezing:
        st.warning(freezing, icon="⚠️")
    st.caption(f"Device: {caches.training_device_description(defaults.train)}")
    gpus = default_processes(RunConfig())  # several GPUs: train on all of them with torchrun
    all_gpus = gpus > 1 and st.toggle(f"Use all {gpus} GPUs (one torchrun process each)", True)
    submitted = st.form_submit_button("Start training", type="primary", disabled=busy, icon="▶️")

if submitted and not busy:
    try:
        config = RunConfig(
            data=DataConfig(
                dataset=dataset, limit=int(limit) or None, none_examples=int(none_examples)
            ),
            model=ModelConfig(name=name, freeze_body=frozen),
            train=TrainConfig(
                mode=mode,
                epochs=int(epochs),
                batch_size=int(batch_size),
                lr=float(lr),
                augment=augment,
            ),
        )
        bar = st.progress(0.0, text="Loading the data...")
        split = caches.load_dataset(
            config.data,
            progress=lambda message, fraction: bar.progress(min(1.0, fraction), message),
        )
        bar.empty()
        job = session.start_training(config, split, processes=gpus if all_gpus else 1)
        session.remember_job(job)
    except EngineError as error:
        messages.show_error(error)
        links.end_page()
    st.rerun()  # redraw with the form disabled and the status polling


def saved_run(run_id: str | None) -> LoadedRun | None:
    """The saved run, to read what its data is; None when it cannot be loaded."""
    if run_id is None:
        return None
    try:
        return visitor.load_run(run_id)
    except EngineError:
        return None


def show_finished(progress: JobProgress) -> None:
    """The outcome: final metrics, where the run is saved, and where to look at it next."""
    if progress.state == JobState.FAILED:
        messages.show_error(f"Training failed: {progress.error}")
        return
    if progress.state == JobState.STOPPED and progress.run_id is None:
        st.warning("Cancelled before it started: nothing was saved.")
        return
    if progress.state == JobState.STOPPED:
        st.warning(f"Stopped after {progress.epoch} of {progress.epochs} epochs.")
    else:
        st.success(f"Done: {progress.epochs} epochs in {progress.elapsed:.0f} s.")
    final = progress.last_metrics
    run = saved_run(progress.run_id)
    several = run is not None and bool(run.multi_label_data)
    order = SEVERAL_LABELS_HEADLINE if several else HEADLINE
    shown = [key for key in order if key in final]
    if shown:
        columns = st.columns(len(shown))
        for column, key in zip(columns, shown, strict=True):
            column.metric(metric_title(key), f"{final[key]:.4f}")
        if several:
            st.caption(
                "These images carry several labels each, so two classes firing together is "
                "often right: the headline is exact match and macro F1, not argmax accuracy."
            )
        st.caption(glossary.FASTAI["metrics"])
    if progress.run_id:
        messages.show_warnings(session.run_warnings(progress.run_id))
        st.caption(f"Saved in the run store as `{progress.run_id}`.")
        explore, compare = st.columns([1, 3])
        if explore.button("Explore this run", icon="🔍"):
            links.open_page(links.EXPLORE_PAGE, **{links.RUN: progress.run_id})
        if run is not None and twins.has_no_softmax_twin(run):
            compare.caption(twins.NO_SOFTMAX_TWIN)  # Compare would only say the same
        elif compare.button(
            "Compare it with its twin",
            icon="⚖️",
            help="The same settings trained the other way (softmax or sigmoids): Compare offers "
            "the saved twin, or trains it.",
        ):
            links.open_page(links.COMPARE_PAGE, **{links.RUNS: [progress.run_id]})


def show_status(job: TrainingJob, progress: JobProgress) -> None:
    """Progress bar, stop button, curves, and the outcome once the job ended."""
    if progress.waiting:
        place = progress.queue_position
        ahead = "you are next" if place == 1 else f"{place - 1} ahead of you"
        st.progress(
            0.0,
            text=f"Waiting in the queue: place {place} ({ahead}) · {progress.elapsed:.0f} s",
        )
        st.caption(
            "The server trains a few models at a time, each on its share of the CPU cores; "
            "yours starts when a slot frees. You can leave this page and come back."
        )
        if job.stop_requested:
            st.caption("Cancelling...")
        elif st.button("Cancel", icon="⏹️"):
            job.stop()
            st.caption("Cancelling...")
        return
    label = {"queued": "Preparing", "running": "Training"}.get(progress.state, "Finished")
    st.progress(
        progress.fraction,
        text=f"{label}: epoch {min(progress.epoch + 1, progress.epochs)} of {progress.epochs}"
        f" · {progress.elapsed:.0f} s"
        + (f" · {progress.device}" if progress.device else "")
        + (f" · uses {job.processes} GPUs" if job.processes > 1 else ""),
    )
    if not progress.finished:
        if job.stop_requested:
            st.caption("Stopping after this batch...")
        elif st.button("Stop", icon="⏹️"):
            job.stop()
            st.caption("Stopping after this batch...")
    if progress.history:
        st.altair_chart(charts.training_curves(progress.history, progress.epochs), width="stretch")
    if progress.finished:
        show_finished(progress)


@st.fragment(run_every=POLL_SECONDS)
def poll_training() -> None:
    """Redrawn every second while this tab's job runs; one full rerun when it ends, so the
    form is enabled again and the outcome is drawn outside the fragment."""
    job = session.current_job()
    progress = job.progress()
    if progress.finished or progress.waiting:
        st.rerun()
    show_status(job, progress)


@st.fragment(run_every=WAITING_POLL_SECONDS)
def poll_waiting() -> None:
    """While the job waits in the server's queue: its place, redrawn every few seconds (many
    waiting tabs must not slow the training they wait for); a full rerun once it starts."""
    job = session.current_job()
    progress = job.progress()
    if not progress.waiting:
        st.rerun()
    show_status(job, progress)


if job is None:
    st.info("No training started from this tab yet: fill in the form and press Start.")
elif busy and job.progress().waiting:
    poll_waiting()
elif busy:
    poll_training()
else:
    show_status(job, job.progress())
