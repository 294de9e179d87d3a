"""Predict page: upload images and see how a saved run reads each one.

For every upload: the verdict in the run's own reading (a softmax run: its winner; a sigmoid
run: every class that fires) and which reading that is, the other reading labelled as the one
the model was not trained for, classes that nearly fired, the image as uploaded and as the
model sees it, the sigmoid probabilities with the threshold as a line, the softmax
probabilities beside them, and the confused pairs it falls between. A bad file shows the
engine's message and the other files still get their predictions. Without an image of one's
own, an example (dashboard.examples) goes through the same cards; its choice is in the URL.
"""

from __future__ import annotations

import streamlit as st

from dashboard import charts_analysis, links, messages, session
from dashboard.drawpad import draw_pad
from dashboard.examples import EXAMPLE_PREFIX, run_examples
from engine.analysis import confused_pairs
from engine.errors import EngineError
from engine.images import decode_image
from engine.labels import activation
from engine.prediction import (
    READING_NAMES,
    near_miss_text,
    other_reading_text,
    pairs_between,
    predict_images,
    verdict_text,
)
from engine.runs import read_tuned_thresholds

# No `type=` filter on the uploader: the engine names what is wrong with any file (a .heic
# photo, a PDF), where Streamlit would only refuse the extension.
PAIRS_CHECKED = 10  # an upload is placed among the run's strongest confused pairs
MAX_FILES, MAX_TOTAL_BYTES = session.PREDICT_MAX_FILES, session.PREDICT_MAX_BYTES


def show_prediction(name: str, data: bytes, prediction, threshold, run_pairs) -> None:
    """One upload's card: the verdict, the image twice, both bar charts, the pairs."""
    with st.container(border=True):
        st.markdown(f"**{messages.plain(name)}**")
        if prediction.error:
            messages.show_error(f"{name}: {prediction.error}")
            return
        st.subheader(f"Verdict: {messages.plain(verdict_text(prediction))}")
        st.caption(
            f"Read with {READING_NAMES[prediction.reading]}, as this model was trained · "
            + messages.plain(other_reading_text(prediction))
        )
        near = near_miss_text(prediction)
        if near:
            st.caption(messages.plain(near))
        shown, seen, sigmoid_column, softmax_column = st.columns([1, 1, 2, 2])
        try:
            original = "the example" if name.startswith(EXAMPLE_PREFIX) else "as uploaded"
            original = "as drawn" if name == "your drawing" else original
            shown.image(decode_image(data, name), caption=original, width=140)
        except EngineError:
            shown.caption("(preview unavailable)")
        seen.image(
            prediction.model_input,
            caption="as the model sees it",
            width=140,
        )
        sigmoid_column.altair_chart(
            charts_analysis.probability_chart(
                prediction.classes, prediction.sigmoid, "sigmoid per class", threshold
            ),
            width="stretch",
        )
        softmax_column.altair_chart(
            charts_analysis.probability_chart(prediction.classes, prediction.softmax, "softmax"),
            width="stretch",
        )
        between = pairs_between(prediction, run_pairs, threshold)
        if between:
            st.write(
                "Falls between these confused pairs of the run (both sigmoids fire or nearly "
                "fire): "
                + ", ".join(
                    messages.plain(f"{a} and {b} (min sigmoid {low:.2f})") for a, b, low in between
                )
            )
        else:
            st.caption("Not between any of the run's most confused pairs.")


st.title("Predict")
st.write(
    "Upload photos or scans of single digits (or images of the run's classes). Each one is "
    "prepared the way the run's training data was, then read two ways: one sigmoid per "
    "class (several may fire, or none) and the softmax (always one winner). The verdict is the "
    "reading the run was trained for: the softmax winner for a multi-class run, the classes "
    "that fire for a multi-label run."
)

run = session.analysis_run_picker(page="predict")
if run is None:
    links.end_page()

saved = None
try:
    saved = read_tuned_thresholds(run)
except EngineError as error:
    st.warning(str(error))
use_tuned = saved is not None and st.toggle(
    "Use the thresholds tuned for this run (one per class)",
    value=True,
    help="Saved from Explore's 'Choosing the threshold'; "
    "`python -m engine predict RUN IMAGE --threshold tuned` uses the same.",
    **links.bind_flag(links.TUNED),
)
threshold = links.threshold_slider(
    "Threshold",
    minimum=0.05,
    maximum=0.95,
    step=0.05,
    disabled=use_tuned,
    help="A class fires when its sigmoid is at or above this line (the sigmoid reading; a "
    "softmax run's verdict is its winner whatever the line).",
)
if use_tuned:
    threshold = list(saved.values)
    st.caption(
        "Tuned thresholds: "
        + ", ".join(
            f"{name}: {value:.2f}" for name, value in zip(run.class_names, threshold, strict=True)
        )
    )

uploads = st.file_uploader(
    "Images (PNG, JPEG, BMP, GIF, WebP)",
    accept_multiple_files=True,
    key="predict_uploads",
)

examples = {example.key: example for example in run_examples(run)}
with st.container(border=True):
    st.markdown("**No image at hand? Try an example**")
    st.image(
        [example.image for example in examples.values()],
        caption=[example.label for example in examples.values()],
        width=72,
    )
    chosen = st.pills(
        "Example",
        list(examples),
        label_visibility="collapsed",
        **links.bind_choice(links.EXAMPLE, list(examples)),
    )

with st.expander("Draw a digit", expanded=True):
    st.caption(
        "Draw with the mouse or a finger; each stroke is read at once, prepared and judged "
        "like an upload. The drawing stays until you clear it."
    )
    drawing = draw_pad()

files = [(examples[chosen].name, examples[chosen].data)] if chosen in examples else []
uploads = list(uploads or [])
read, total = 0, 0  # how many uploads fit the limits, in the order chosen
for upload in uploads[:MAX_FILES]:
    total += upload.size
    if total > MAX_TOTAL_BYTES:
        break
    read += 1
if read < len(uploads):
    st.warning(
        f"{len(uploads)} files were chosen; one reading takes at most {MAX_FILES} files and "
        f"{MAX_TOTAL_BYTES / 2**20:.0f} MB, so only the first {read} are read. Remove some "
        "(the × beside each) to read the others.",
        icon="⚠️",
    )
files += [("your drawing", drawing)] if drawing else []
files += [(upload.name, upload.getvalue()) for upload in uploads[:read]]
del uploads  # only the files read are kept, and only for this page run
if not files:
    st.info(
        "Upload one or more images, draw a digit, or try an example, to see the model's "
        "reading of each."
    )
else:
    predictions = []
    with st.spinner(f"Reading {len(files)} image{'s' if len(files) != 1 else ''}…"):
        try:
            predictions = predict_images(run, files, threshold=threshold)
        except EngineError as error:
            messages.show_error(error)
    ranked = confused_pairs(
        activation(run.validation.logits, "multi-label"),
        run.validation.targets,
        run.class_names,
        threshold,
        top=PAIRS_CHECKED,
        examples=0,
    )
    run_pairs = list(zip(ranked["a"], ranked["b"], strict=True))
    for (name, data), prediction in zip(files, predictions, strict=False):
        show_prediction(name, data, prediction, threshold, run_pairs)
