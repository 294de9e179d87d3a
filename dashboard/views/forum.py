"""Forum questions page: the fastai forum thread this app exists for, answered with the user's
own numbers.

First the error (`Target size (torch.Size([64])) must be the same as input size
(torch.Size([640]))`) reproduced live on one real batch of the chosen dataset at the chosen
batch size (engine.lessons), with its cause (the targets, not the head) and the fix. Then the
thread's three questions answered with a saved run: (1) can BCE train a multi-class set - this
run's accuracy; (2) how the head is changed - this run's head before and after; (3) softmax
then sigmoid, or sigmoid training - this run beside its twin, or the offer to train it.
"""

from __future__ import annotations

import streamlit as st

from dashboard import caches, glossary, links, session, twins, visitor
from engine import modes, run_pairing
from engine.analysis.readings import compare_runs, explain_readings
from engine.config import DataConfig
from engine.errors import EngineError
from engine.metric_names import metric_label
from engine.models import describe_head
from engine.states import RunHealth

st.title("The forum's questions, with your numbers")
st.write(
    "On the fastai forum, a user training MNIST with `BCEWithLogitsLossFlat` got an error, "
    "concluded that *the issue resides in the last FC layer's out_features*, forced "
    "`label_cls=MultiCategoryList`, and asked whether to train with softmax and read sigmoids "
    "at inference. Here is the error reproduced on your data, and the three questions "
    "answered with a run."
)

# --- Why the error? ---------------------------------------------------------------------------

st.header("Why the error?")
offline = [info.name for info in caches.dataset_choices() if info.offline]
uploaded = session.uploaded_dataset()
choices = offline + ([uploaded[1]] if uploaded is not None else [])
left, right = st.columns([3, 1])
dataset = left.selectbox(
    "Dataset",
    choices,
    format_func=session.dataset_label,
    help="Built-in sets, and the set you uploaded on the Data page.",
    **links.bind_choice(links.DATASET, choices),
)
batch_size = right.number_input(
    "Batch size",
    1,
    1024,
    64,
    help="fastai's default is 64.",
    **links.bind_number(links.BATCH_SIZE, 1, 1024),
)
try:
    lesson = caches.forum_error(DataConfig(dataset=dataset), int(batch_size))
except EngineError as error:
    st.error(str(error))
    links.end_page()

batch, classes = lesson.batch_size, lesson.num_classes
facts = st.columns(4)
facts[0].metric("Images in the batch", batch)
facts[1].metric("Classes (head outputs)", classes)
facts[2].metric("Logits", f"{batch} × {classes}")
facts[3].metric("Logits flattened", f"{lesson.flattened_logits:,}")

wrong, right = st.columns(2)
with wrong:
    st.markdown("**Class indices into BCE** (what the forum did)")
    st.code(
        f"targets.shape   # torch.Size([{batch}]): one class index per image\n"
        f"logits.shape    # torch.Size([{batch}, {classes}]): one logit per class\n"
        "BCEWithLogitsLossFlat()(logits, targets)   # flattens both",
        language="python",
        wrap_lines=True,
    )
    st.caption(f"Raised just now by PyTorch on {batch} real training images of this dataset:")
    st.code(f"ValueError: {lesson.flat_message}", language=None, wrap_lines=True)
    st.caption("Plain PyTorch, without fastai's flattening, says the same thing:")
    st.code(f"ValueError: {lesson.plain_message}", language=None, wrap_lines=True)
with right:
    st.markdown("**One-hot targets into BCE** (the fix)")
    one_hot = "[" + ",".join(str(value) for value in lesson.first_one_hot) + "]"
    st.code(
        f"targets = to_multi_label(targets, {classes})   # fastai: MultiCategoryBlock\n"
        f"targets.shape   # torch.Size([{batch}, {classes}])\n"
        f"# image 0: class {lesson.first_index} -> {one_hot}\n"
        f"BCEWithLogitsLoss()(logits, targets)   # = {lesson.fixed_loss:.4f}",
        language="python",
        wrap_lines=True,
    )
    st.caption("This app's engine checks the targets before the loss and names the fix:")
    st.code(lesson.engine_message, language=None, wrap_lines=True)

st.info(
    f"The head was never the problem: it already gives {classes} logits per image, "
    f"{batch} × {classes} = {lesson.flattened_logits:,} numbers, and binary cross-entropy needs "
    f"one float target (0 or 1) per logit, {lesson.flattened_logits:,} of them. Class indices "
    f"give {batch}. So the fix is the targets (one-hot), not the head; "
    "`label_cls=MultiCategoryList` worked because it made the targets one-hot. The same batch "
    f"with class indices trains with CrossEntropyLoss (loss {lesson.cross_entropy_loss:.4f})."
)
if lesson.multi_hot_data:
    st.caption(
        "This dataset is multi-label already; the wrong call above used each image's first "
        "label as its class index, as a single-label loader would."
    )
st.caption(glossary.FASTAI["loss"])
st.caption(glossary.FASTAI["bce"])

# --- The three questions, with a run ----------------------------------------------------------

st.header("The three questions, answered with a run")
run = session.analysis_run_picker(page="forum")
if run is None:
    links.end_page()
metrics = run.metrics
accuracy = metrics.get("val_accuracy")
images = len(run.validation.logits)

st.subheader("1. Can a multi-class dataset be trained with BCE?")
if run.mode == "multi-label":
    extra = ""
    if "val_accuracy_multi" in metrics:
        extra = (
            f", accuracy_multi {metrics['val_accuracy_multi']:.1%} at threshold "
            f"{run.config.train.threshold:.2f}"
        )
    if twins.has_no_softmax_twin(run):
        st.write(
            "This run's data is multi-label already: images carry several "
            "labels or none, so BCE with one sigmoid per class is the only way to train it. "
            f"Its argmax names a true label on {accuracy:.1%} of its {images:,} validation "
            f"images{extra}. A single-label set trains the same way once its class indices "
            "become one-hot vectors."
        )
    else:
        st.write(
            f"Yes. This run was trained with `BCEWithLogitsLoss`, one sigmoid per class, on "
            f"one-hot targets, and its argmax is right on {accuracy:.1%} of its {images:,} "
            f"validation images{extra}."
        )
else:
    st.write(
        f"This run was trained with softmax and `CrossEntropyLoss` ({accuracy:.1%} accuracy on "
        f"{images:,} validation images). Choose a multi-label run, or train this run's "
        "multi-label twin (question 3), to see BCE train the same data."
    )
st.caption(glossary.FASTAI["metrics"])

st.subheader("2. How is the head changed?")
try:
    change = caches.head_change(run.config.model, len(run.class_names), tuple(run.image_shape))
    trained_head = describe_head(run.model)
except EngineError as error:
    st.error(str(error))
    links.end_page()
before, after = st.columns(2)
with before:
    st.markdown(f"**Before**: {change.before_origin}")
    st.code(change.before.text, language=None, wrap_lines=True)
with after:
    st.markdown(f"**After**: this run's head, {trained_head.out_features} outputs")
    st.code(trained_head.text, language=None, wrap_lines=True)
st.write(
    f"The head is set once, to one output per class ({trained_head.out_features}), and is the "
    "same in both label modes: only the activation read from it (softmax or a sigmoid per "
    "class) and the loss change. The forum's error was the targets, not the head."
)
st.caption(glossary.FASTAI["head"])

st.subheader("3. Train with softmax and read sigmoids, or train with sigmoids?")
summaries = [summary for summary in visitor.run_summaries() if summary.status == RunHealth.COMPLETE]
twin_id = run_pairing.saved_twin(run, summaries)
if twins.has_no_softmax_twin(run):
    st.write(
        f"{twins.NO_SOFTMAX_TWIN} Ask this question of a single-label set (mnist-5k, or class "
        "folders), where both are possible."
    )
elif twin_id is None:
    missing = modes.other_mode(run.mode)
    st.write(
        f"This run has no {missing} twin yet (the same data, model and epochs, trained the "
        "other way). Compare trains it in the background and puts the two side by side."
    )
    if st.button(f"Train the {missing} twin on Compare", icon="⚖️"):
        links.open_page(links.COMPARE_PAGE, **{links.RUNS: [run.id]})
else:
    try:
        twin = visitor.load_run(twin_id)
        readings = compare_runs(run, twin, run.config.train.threshold)
    except EngineError as error:
        st.error(str(error))
        links.end_page()
    table = [
        {
            "run": loaded.id,
            "trained with": "softmax" if loaded.mode == "multi-class" else "sigmoids (BCE)",
            metric_label("val_accuracy"): round(
                loaded.metrics.get("val_accuracy", float("nan")), 4
            ),
        }
        for loaded in (run, twin)
    ]
    st.dataframe(table, hide_index=True, width="stretch")
    st.info(explain_readings(readings))
    if st.button("See the three readings on Compare", icon="⚖️"):
        links.open_page(links.COMPARE_PAGE, **{links.RUNS: [run.id, twin_id]})
