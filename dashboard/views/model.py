"""Model page: choose an architecture and see its head before and after it is reset for the
dataset, printed as PyTorch prints it, with trainable and frozen parameter counts."""

from __future__ import annotations

import streamlit as st

from dashboard import caches, glossary, links, messages
from engine.config import DataConfig, ModelConfig
from engine.errors import EngineError
from engine.model_names import available_models
from engine.models import freeze_warning

st.title("Model")
st.write(
    "Every model ends in a plain `Linear` layer, the *head*, with one output (logit) per "
    "class. A head is replaced only to change the number of classes (a published model has "
    "1000); the label mode never changes it: multi-class and multi-label training use the "
    "same head and differ in the activation read from it (softmax or one sigmoid per class), "
    "the loss and the targets. The forum's `Target size ([64]) ... input size ([640])` error "
    "is about the targets, not this layer."
)
st.caption(glossary.FASTAI["head"] + " " + glossary.FASTAI["bce"])

models = available_models()
offline = [info.name for info in caches.dataset_choices() if info.offline]
left, middle, right = st.columns([2, 2, 1])
with left:
    name = st.selectbox(
        "Architecture",
        models,
        help="cnn and mlp are small nets built for 28×28 digits; the rest come from torchvision.",
        **links.bind_choice(links.MODEL, models),
    )
with middle:
    dataset = st.selectbox(
        "For the dataset",
        offline,
        help="The dataset decides how many outputs the new head needs and the input shape.",
        **links.bind_choice(links.DATASET, offline),
    )
with right:
    frozen = st.toggle(
        "Freeze the body",
        help="Train the new head alone: everything else keeps its weights. Only useful with "
        "pretrained weights: a random body gives the head random features.",
        **links.bind_flag(links.FREEZE),
    )

try:
    split = caches.load_dataset(DataConfig(dataset=dataset))
    change = caches.head_change(
        ModelConfig(name=name, freeze_body=frozen), split.num_classes, split.image_shape
    )
except EngineError as error:
    messages.show_error(error)
    links.end_page()

warning = freeze_warning(ModelConfig(name=name, freeze_body=frozen))
if warning:  # the Train page trains without pretrained weights
    st.warning(warning, icon="⚠️")

before, after = st.columns(2)
with before:
    st.subheader("Before")
    st.caption(change.before_origin)
    st.code(change.before.text, language=None, wrap_lines=True)
    st.metric("Outputs", change.before.out_features)
    st.metric("Trainable parameters", f"{change.before.trainable_params:,}")
    st.metric("Frozen parameters", f"{change.before.frozen_params:,}")
with after:
    st.subheader("After")
    st.caption(
        f"`reset_classifier(model, {change.num_classes})` for {dataset}"
        + (", then `freeze_body(model)`." if frozen else ".")
    )
    st.code(change.after.text, language=None, wrap_lines=True)
    st.metric(
        "Outputs",
        change.after.out_features,
        delta=change.after.out_features - change.before.out_features or None,
        delta_color="off",  # fewer outputs is neither good nor bad
    )
    st.metric("Trainable parameters", f"{change.after.trainable_params:,}")
    st.metric("Frozen parameters", f"{change.after.frozen_params:,}")

st.info(
    f"The head `{change.after.attribute}` maps {change.after.in_features} features to "
    f"{change.after.out_features} logits ({change.after.head_params:,} parameters). "
    "Multi-class training reads them with a softmax; multi-label training with a sigmoid each."
)
if st.button("Train this model", icon="🏋️"):
    links.open_page(links.TRAIN_PAGE, **{links.MODEL: name, links.DATASET: dataset})
