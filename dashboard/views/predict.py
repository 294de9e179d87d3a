"""Predict page: upload images and see how a saved run reads each one.

For every upload: the verdict in the run's own reading (a softmax run: its winner; a sigmoid
run: every class that fires) and which reading that is, the other reading labelled as the one
the model was not trained for, classes that nearly fired, the image as uploaded and as the
model sees it, the sigmoid probabilities with the threshold as a line, the softmax
probabilities beside them, and the confused pairs it falls between. Uploads are read once and
released: the session keeps a small preview and the prepared image per file, not the file,
and the uploader gets a new key so it lets go of them too. A bad file shows the
engine's message and the other files still get their predictions. Without an image of one's
own, an example (dashboard.examples) goes through the same cards; its choice is in the URL.
"""

from __future__ import annotations

import streamlit as st
import torch

from dashboard import charts_analysis, links, messages, session
from dashboard.drawpad import draw_pad
from dashboard.examples import EXAMPLE_PREFIX, run_examples
from engine.analysis import confused_pairs
from engine.errors import EngineError
from engine.images import decode_image, preprocess, to_display
from engine.labels import activation
from engine.prediction import (
    READING_NAMES,
    Prediction,
    near_miss_text,
    other_reading_text,
    pairs_between,
    predict_images,
    predict_prepared,
    verdict_text,
)
from engine.runs import read_tuned_thresholds

# No `type=` filter on the uploader: the engine names what is wrong with any file (a .heic
# photo, a PDF), where Streamlit would only refuse the extension.
PAIRS_CHECKED = 10  # an upload is placed among the run's strongest confused pairs
MAX_FILES, MAX_TOTAL_BYTES = session.PREDICT_MAX_FILES, session.PREDICT_MAX_BYTES
PREVIEW_PIXELS = 280  # the longest side of the "as uploaded" preview kept per file


def keep_uploads(run, uploads, notice: str | None) -> dict:
    """What is kept of each upload once read: its name, a small preview, the image prepared
    as the run's training images were (uint8 (C, H, W)), or the engine's message for a file
    it refuses. The bytes themselves are dropped file by file."""
    items = []
    for upload in uploads:
        name, preview, prepared, error = upload.name, None, None, None
        try:
            image = decode_image(upload.getvalue(), name)
            prepared = preprocess(image, run.preprocess, run.image_shape)
            preview = image.copy()
            preview.thumbnail((PREVIEW_PIXELS, PREVIEW_PIXELS))
        except EngineError as refused:
            error = str(refused)
        items.append({"name": name, "preview": preview, "prepared": prepared, "error": error})
    return {"run": run.id, "items": items, "notice": notice}


def live_preview(data: bytes, name: str):
    """An example's or the drawing's image as given, or None when it cannot be decoded."""
    try:
        return decode_image(data, name)
    except EngineError:
        return None


def read_kept(run, items: list[dict], threshold) -> list[tuple]:
    """(name, preview, Prediction) per kept upload, read at the threshold shown now."""
    prepared = [item["prepared"] for item in items if item["error"] is None]
    cutoffs = threshold if isinstance(threshold, int | float) else torch.tensor(threshold)
    read = iter(predict_prepared(run, torch.stack(prepared), cutoffs) if prepared else [])
    cards = []
    for item in items:
        if item["error"] is not None:
            classes = tuple(run.class_names)
            prediction = Prediction(item["name"], classes, [], [], [], None, error=item["error"])
        else:
            prediction = next(read)
            prediction.file = item["name"]
            prediction.model_input = to_display(item["prepared"])
        cards.append((item["name"], item["preview"], prediction))
    return cards


def show_prediction(name: str, preview, prediction, threshold, run_pairs) -> None:
    """One upload's card: the verdict, the image twice (`preview` as uploaded, or None),
    both bar charts, the pairs."""
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
        if preview is None:
            shown.caption("(preview unavailable)")
        else:
            original = "the example" if name.startswith(EXAMPLE_PREFIX) else "as uploaded"
            original = "as drawn" if name == "your drawing" else original
            shown.image(preview, caption=original, width=140)
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

# The uploader's files are read once, then released: the page keeps only what it shows (a
# small preview and the image as the model sees it, per file) and gives the uploader a new
# key, so a visitor's photos do not stay in the server's memory while the results are read.
uploads = list(
    st.file_uploader(
        "Images (PNG, JPEG, BMP, GIF, WebP)",
        accept_multiple_files=True,
        key=session.predict_uploader_key(),
    )
    or []
)
if uploads:
    read, total = 0, 0  # how many uploads fit the limits, in the order chosen
    for upload in uploads[:MAX_FILES]:
        total += upload.size
        if total > MAX_TOTAL_BYTES:
            break
        read += 1
    notice = None
    if read < len(uploads):
        notice = (
            f"{len(uploads)} files were chosen; one reading takes at most {MAX_FILES} files and "
            f"{MAX_TOTAL_BYTES / 2**20:.0f} MB, so only the first {read} are read. Upload the "
            "others again to read them."
        )
    kept = keep_uploads(run, uploads[:read], notice)
    del uploads
    session.release_predict_uploads(kept)
    st.rerun()

kept = session.predict_kept_uploads(run.id)

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
if kept is not None:
    if kept["notice"]:
        st.warning(kept["notice"], icon="⚠️")
    count = len(kept["items"])
    st.caption(
        f"{count} uploaded file{'s were' if count != 1 else ' was'} read and released: the "
        "results below stay on this page, the files themselves are not kept."
    )
    if st.button("Clear these results", icon="🧹"):
        session.forget_predict_uploads()
        st.rerun()
files += [("your drawing", drawing)] if drawing else []
if not files and kept is None:
    st.info(
        "Upload one or more images, draw a digit, or try an example, to see the model's "
        "reading of each."
    )
else:
    cards = []
    try:
        if files:
            with st.spinner(f"Reading {len(files)} image{'s' if len(files) != 1 else ''}…"):
                predictions = predict_images(run, files, threshold=threshold)
            cards += [
                (name, live_preview(data, name), prediction)
                for (name, data), prediction in zip(files, predictions, strict=True)
            ]
        if kept is not None:
            cards += read_kept(run, kept["items"], threshold)
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
    for name, preview, prediction in cards:
        show_prediction(name, preview, prediction, threshold, run_pairs)
