"""Data page: choose a dataset (or upload one: class folders, or images with a CSV of labels),
look at its images with their label sets, its class balance and labels per image, and see how
one target looks in each label mode."""

from __future__ import annotations

import streamlit as st

from dashboard import caches, charts, glossary, links, messages, session
from engine import overview
from engine.config import DataConfig, TrainConfig
from engine.errors import EngineError
from engine.labels import LABEL_MODES

st.title("Data")

infos = caches.dataset_choices()
names = [info.name for info in infos] + [session.UPLOAD_CHOICE]
name = st.selectbox(
    "Dataset",
    names,
    help="MNIST-5k ships with the app and works offline; the others come from torchvision.",
    **links.bind_choice(links.DATASET, names),
)

download = False
if name == session.UPLOAD_CHOICE:
    upload = st.file_uploader(
        "A .zip with one folder per class (cats/…, dogs/…), or images with a CSV of their "
        "labels (fname,labels[,is_valid], labels separated by spaces, as fastbook's PASCAL "
        "train.csv)",
        type=["zip"],
    )
    remembered = session.uploaded_dataset()
    if upload is not None:
        candidate = None
        try:
            candidate = session.store_upload(upload.name, upload.getvalue())  # within the quota
            bar = st.progress(0.0, text="Reading the upload…")
            caches.load_dataset(
                DataConfig(dataset=candidate),
                progress=lambda message, fraction: bar.progress(min(1.0, fraction), message),
            )
            bar.empty()
        except EngineError as error:
            if candidate is not None:
                session.forget_upload(candidate)  # a refused zip is not kept
            messages.show_error(f"{upload.name} cannot be used: {error}")
            if remembered is None:
                links.end_page()
            st.info("Still using the earlier upload, shown below.")
        else:
            session.remember_upload(upload.name, candidate)
            remembered = session.uploaded_dataset()
    if remembered is None:
        st.info(
            "Upload a .zip of class folders, or of images with a CSV of their labels, to look "
            "at it here and train on it."
        )
        links.end_page()
    upload_name, dataset = remembered
    st.text(f"Uploaded: {upload_name}")  # the user's own file name, as plain text
else:
    info = next(info for info in infos if info.name == name)
    st.caption(info.description)
    dataset = info.name
    if not info.offline:
        download = st.toggle(
            "Download if missing (needs the internet)",
            help="torchvision fetches the files once into the data folder.",
            **links.bind_flag(links.DOWNLOAD),
        )
        if not download:
            st.caption("Offline: only the datasets already on this server can be used.")

config = DataConfig(dataset=dataset, download=download)
try:
    if caches.is_dataset_loaded(config):
        split = caches.load_dataset(config)
    else:
        bar = st.progress(0.0, text=f"Loading {name}...")
        split = caches.load_dataset(
            config, progress=lambda message, fraction: bar.progress(min(1.0, fraction), message)
        )
        bar.empty()
except EngineError as error:
    messages.show_error(error)
    links.end_page()
for warning in split.warnings:  # e.g. files of an upload that were skipped
    st.warning(warning)

counts = overview.class_counts(split)
train_total = int(counts.loc[counts["part"] == "train", "count"].sum())
valid_total = int(counts.loc[counts["part"] == "valid", "count"].sum())
facts = st.columns(4)
facts[0].metric("Training images", f"{len(split.train):,}")
facts[1].metric("Validation images", f"{len(split.valid):,}")
facts[2].metric("Classes", split.num_classes)
facts[3].metric("Image shape (C, H, W)", " × ".join(str(n) for n in split.image_shape))

multi_hot = split.train.targets.ndim == 2
st.subheader("Sample images, with their label sets" if multi_hot else "Sample images")
samples = overview.sample_images(split.train, per_class=2)
st.image([image for image, _ in samples], caption=[label for _, label in samples], width=56)

st.subheader("Class balance")
st.altair_chart(charts.class_balance_chart(counts), width="stretch")
st.caption(
    f"Labels counted: {train_total:,} in training, {valid_total:,} in validation "
    f"({train_total + valid_total:,} in all)."
)

st.subheader("Labels per image")
per_image = overview.labels_per_image(split)
st.altair_chart(charts.labels_per_image_chart(per_image), width="stretch")
if multi_hot:
    st.caption(
        "Images carry any number of labels, none included: a multi-label dataset, trained "
        "with one sigmoid per class and BCEWithLogitsLoss. " + glossary.FASTAI["data"]
    )
else:
    st.caption(
        "Every image carries exactly one label: multi-class data, which either label mode "
        "can train."
    )

st.subheader("One target, two label modes")
mode = st.segmented_control(
    "Label mode",
    list(LABEL_MODES),
    default=TrainConfig().mode,
    required=True,
    **links.bind_choice(links.MODE, list(LABEL_MODES)),
)
example = overview.target_example(split.train)
picture, before, after = st.columns([1, 2, 3])
picture.image(example.image, caption=f"training image #{example.index}", width=96)
with before:
    st.markdown("**Multi-class target** (class index)")
    st.code(str(example.class_index) if example.class_index is not None else "none possible")
    st.caption("Softmax over all classes, CrossEntropyLoss (fastai: CrossEntropyLossFlat).")
with after:
    st.markdown("**Multi-label target** (one-hot vector)")
    st.code(example.multi_label_text)
    st.caption(
        "One sigmoid per class, BCEWithLogitsLoss (fastai: BCEWithLogitsLossFlat); "
        "engine.labels.to_multi_label."
    )
if example.class_index is None:
    st.warning(
        f"This image carries {example.class_name!r}: several labels (or none), which no class "
        "index can say. Only multi-label mode can train this dataset."
    )
elif mode == "multi-label":
    st.success(
        f"In multi-label mode the target of this {example.class_name!r} is the vector "
        f"{example.multi_label_text}: the model answers yes or no for every class."
    )
else:
    st.info(
        f"In multi-class mode the target of this {example.class_name!r} stays the class index "
        f"{example.class_index}: exactly one class wins."
    )

st.caption(glossary.FASTAI["targets"])
with st.container(border=True):
    st.markdown(
        "**Why the forum's error?** `Target size (torch.Size([64])) must be the same as input "
        "size (torch.Size([640]))` comes from class-index targets given to BCEWithLogitsLoss: "
        "the fix is the targets (one-hot, as above), not the head."
    )
    st.page_link(links.FORUM_PAGE, label="Reproduce it live with this data", icon="💬")
