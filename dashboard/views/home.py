"""Home page: what the app shows, the three questions it answers (each one click away), and
the shortest way to a trained model."""

from __future__ import annotations

import streamlit as st

from dashboard import links

PAIRS_DEMO = "demo-pairs"  # engine.runs.DEMO_RUNS: the demo on two labels per image

st.title("Label Mode Explorer")
st.markdown(
    "A digit classifier is usually trained **multi-class**: one softmax over the ten digits, "
    "so the probabilities always add up to one and some digit always wins. Train the same "
    "network **multi-label** instead, with one sigmoid per digit and one-hot targets, and "
    "each digit gets its own yes/no answer. Then a sloppy 7 can light up as *7 and 1*, and a "
    "smudge can light up as *nothing at all*. This app trains both ways on the same data and "
    "shows where they disagree."
)

st.subheader("The forum's error and three questions")
with st.container(border=True):
    st.markdown(
        "**Why `Target size (torch.Size([64])) must be the same as input size "
        "(torch.Size([640]))`?** Class-index targets (64 numbers) met `BCEWithLogitsLoss`, "
        "which needs one float target per logit (64 × 10 = 640). The fix is the targets "
        "(one-hot), not the head: the head already has 10 outputs."
    )
    st.page_link(links.FORUM_PAGE, label="Why the error? Reproduce it with your data", icon="💬")
QUESTIONS = (  # (the question and its short answer, the page that shows it, link, icon)
    (
        "**1. Can a multi-class dataset be trained the multi-label way? How are the labels "
        "converted?**\n\nYes: class index `7` becomes the vector `[0,0,0,0,0,0,0,1,0,0]`, "
        "and the loss becomes binary cross-entropy per class (fastai: `MultiCategoryBlock`, "
        "`BCEWithLogitsLossFlat`).",
        links.DATA_PAGE,
        "See the labels converted",
        "🖼️",
    ),
    (
        "**2. How is the model's head changed?**\n\nNot for the label mode: the head "
        "already has one output per class and is the same in both modes; only the activation "
        "(softmax or a sigmoid per class) and the loss change. It is replaced only to change "
        "the number of classes (`reset_classifier`; fastai: `learn.model[-1]`).",
        links.MODEL_PAGE,
        "See the head before and after",
        "🧠",
    ),
    (
        "**3. Train with softmax and read sigmoids at inference, or train with sigmoids?**"
        "\n\nTrain one run each way on the same data and put them side by side.",
        links.COMPARE_PAGE,
        "Compare the two trainings",
        "⚖️",
    ),
)
for column, (question, page, label, icon) in zip(st.columns(3), QUESTIONS, strict=True):
    with column, st.container(border=True):
        st.markdown(question)
        st.page_link(page, label=label, icon=icon)
st.page_link(
    links.FORUM_PAGE,
    label="All three answered with your run's own numbers",
    icon="💬",
)

st.subheader("Try it")
steps = st.columns(3)
with steps[0]:
    st.page_link(links.TRAIN_PAGE, label="Train a model on the default data", icon="🏋️")
    st.caption("MNIST-5k, multi-label, a minute or two on a CPU.")
with steps[1]:
    st.page_link(links.EXPLORE_PAGE, label="See the confused pairs", icon="🔍")
    st.caption("Where two sigmoids fire at once: a 1 that is also a 7.")
with steps[2]:
    st.page_link(links.PREDICT_PAGE, label="Predict your own digit", icon="✍️")
    st.caption("Upload a photo of a handwritten digit, or try an example.")

st.page_link(
    links.EXPLORE_PAGE,
    label="Two digits in one image: the demo-pairs run",
    icon="🔢",
    query_params={links.RUN: PAIRS_DEMO},
)
st.caption(
    "Trained on two digits side by side, both labels set: there two firing classes are the "
    'right answer ("1 and 7"), so Explore scores it by exact match, and Predict reads a '
    "photo of two digits."
)
st.caption(
    "Three small demo runs ship with the app: one trained each way on MNIST, so Explore, "
    "Compare and Predict work before you train, and demo-pairs. "
    "Every page keeps its choices in the link: use **Share this view** in the sidebar."
)
