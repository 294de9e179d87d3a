"""Explore page: where a run's sigmoids reveal confusion.

The run, threshold (global or tuned per class) and chosen pair live in the URL, so a copied
link reopens this view. Shows the confusion matrix, the sigmoid co-activation heatmap (click a
cell to choose a pair), the ranked pair list, sigmoid(a) against sigmoid(b) for the chosen pair
with its most ambiguous images, and galleries of "both" and "neither" at the threshold. All
numbers come from `engine.analysis`.

When the run's images carry several labels each (two-digits, multi-hot CSV sets), two firing
classes are often right, so the page reads like a multi-label task: exact match and macro F1
as the headline, a per-class precision / recall / F1 table, galleries of wrong label sets (a
missed label, an extra label) instead of "both" and "neither", and no argmax confusion matrix.
"""

from __future__ import annotations

import streamlit as st

from dashboard import charts_analysis, state
from engine.analysis import (
    coactivation,
    confused_pairs,
    confusion_matrix,
    firing_sets,
    threshold_metrics,
    tune_thresholds,
    wrong_label_sets,
)
from engine.errors import EngineError
from engine.labels import activation

GALLERY_SIZE = 24
PAIR_ROWS = 15  # pairs listed and offered; K=10 has 45
COACTIVATION_CHART = "explore_coactivation_chart"
PAIR_TABLE = "explore_pair_table"

st.title("Explore")
st.write(
    "Read every class through its own sigmoid and look for images where two classes fire "
    "at once (a 1 that is also a 7) or none does."
)

run = state.analysis_run_picker(page="explore")
if run is None:
    state.end_page()
if run.mode == "multi-class":
    st.caption(
        "This run was trained with softmax; here each logit is read through a sigmoid, "
        "the second of the three readings compared on the Compare page."
    )

several = run.multi_label_data  # images with several labels each: "both" can be right
class_names = list(run.class_names)
probabilities = activation(run.validation.logits, "multi-label")
targets = run.validation.targets

threshold_column, tuned_column = st.columns([3, 1])
per_class = tuned_column.toggle(
    "Tuned per class",
    value=False,
    help="One threshold per class, chosen to maximise that class's F1 on these outputs.",
    **state.bind_flag(state.PER_CLASS),
)
global_threshold = state.threshold_slider(
    "Threshold",
    container=threshold_column,
    disabled=per_class,
    help="A class fires when its sigmoid is at or above this line.",
)

try:
    with st.spinner("Analysing the validation outputs…"):
        if per_class:
            threshold = tune_thresholds(probabilities, targets)
        else:
            threshold = float(global_threshold)
        metrics = threshold_metrics(probabilities, targets, class_names, threshold)
        sets = firing_sets(probabilities, targets, class_names, threshold)
        pairs = confused_pairs(probabilities, targets, class_names, threshold, top=PAIR_ROWS)
        matrices = coactivation(probabilities, targets, class_names, threshold)
        if several:
            wrong = wrong_label_sets(probabilities, targets, class_names, threshold)
        else:
            confusion = confusion_matrix(run.validation.logits, targets, class_names)
except EngineError as error:
    st.error(f"This run's saved outputs cannot be analysed: {error}. Train it again.")
    state.end_page()
if pairs.empty:
    st.info("This run has a single class, so there are no pairs to confuse.")
    state.end_page()

if per_class:
    st.caption(
        "Tuned thresholds: "
        + ", ".join(
            f"{name}: {value:.2f}" for name, value in zip(class_names, threshold, strict=True)
        )
    )

images = len(probabilities)
counts = st.columns(4)
counts[0].metric("Validation images", f"{images:,}")
if several:
    counts[1].metric(
        "Exact match",
        f"{metrics.exact_match:.3f}",
        help="Share of images whose set of firing classes is exactly their set of labels.",
    )
    counts[2].metric("Macro F1", f"{metrics.macro_f1:.3f}")
    counts[3].metric("Wrong label sets", f"{wrong.wrong_count:,}")
    st.caption(
        "These images carry several labels each, so two classes firing together is often "
        "right: the headline is exact match and macro F1, not argmax accuracy."
    )
    st.dataframe(
        charts_analysis.per_class_table(metrics.per_class),
        width="stretch",
        key="explore_per_class",
    )
else:
    counts[1].metric("Both (2+ fire)", f"{sets.both_count:,}")
    counts[2].metric("Neither (none fires)", f"{sets.neither_count:,}")
    counts[3].metric("Macro F1", f"{metrics.macro_f1:.3f}")

pair_labels = [
    charts_analysis.pair_label(a, b) for a, b in zip(pairs["a"], pairs["b"], strict=True)
]
chosen_label = st.selectbox(
    "Pair",
    pair_labels,
    index=0,
    help="Or click a cell of the co-activation heatmap.",
    **state.bind_choice(state.PAIR, pair_labels),
)
chosen = pairs.iloc[pair_labels.index(chosen_label)]
pair = (str(chosen["a"]), str(chosen["b"]))

heatmap_column, confusion_column = st.columns(2) if not several else (st.container(), None)
heatmap_column.altair_chart(
    charts_analysis.coactivation_chart(matrices.to_frame(), selected=pair),
    key=COACTIVATION_CHART,
    on_select=state.pair_click_handler(
        COACTIVATION_CHART,
        charts_analysis.PAIR_SELECTION,
        charts_analysis.pair_labels_by_cell(pairs),
    ),
    selection_mode=charts_analysis.PAIR_SELECTION,
    width="stretch",
)
if confusion_column is not None:  # an argmax matrix means nothing for images of two labels
    confusion_column.altair_chart(
        charts_analysis.confusion_matrix_chart(confusion), width="stretch"
    )

st.subheader("Confused pairs, strongest first")
st.caption("Tick a row's box to look at that pair, or click a cell of the heatmap.")
st.dataframe(
    charts_analysis.pair_table(pairs),
    hide_index=True,
    width="stretch",
    key=PAIR_TABLE,
    on_select=state.pair_row_handler(PAIR_TABLE, pair_labels),
    selection_mode="single-row",
)

st.subheader(f"{pair[0]} or {pair[1]}?")
st.write(
    f"{int(chosen['both_count'])} images fire both {pair[0]} and {pair[1]} at this threshold "
    f"({int(chosen['true_a'])} truly {pair[0]}, {int(chosen['true_b'])} truly {pair[1]}); "
    f"argmax took {int(chosen['confused_a_as_b'])} {pair[0]}s for {pair[1]} and "
    f"{int(chosen['confused_b_as_a'])} {pair[1]}s for {pair[0]}."
)
points = charts_analysis.pair_points(
    probabilities, targets, class_names, int(chosen["a_index"]), int(chosen["b_index"])
)
scatter_column, examples_column = st.columns([3, 2])
pair_threshold = (
    threshold
    if not per_class
    else float(min(threshold[int(chosen["a_index"])], threshold[int(chosen["b_index"])]))
)
scatter_column.altair_chart(
    charts_analysis.pair_scatter_chart(points, pair, pair_threshold), width="stretch"
)
with examples_column:
    st.markdown("**Most ambiguous images of the pair**")
    examples = list(chosen["examples"])
    if examples:
        shown = charts_analysis.gallery(
            run.validation.images, examples, probabilities, targets, class_names
        )
        st.image(shown.images, caption=shown.captions, width=84)
    else:
        st.caption("No images of these two classes.")

if several:
    st.subheader("Wrong label sets")
    galleries = (
        (
            "Missed a label: a true label did not fire",
            wrong.missed,
            "missed",
            "neither",
            "labels missed, per class",
        ),
        (
            "Extra label: a class fired that is not there",
            wrong.extra,
            "extra",
            "both",
            "extra labels, per class",
        ),
    )
    per_class = wrong.per_class
else:
    st.subheader("Both and neither")
    galleries = (
        ("Both: two or more sigmoids fire", sets.both, "both", "both", "both per true class"),
        ("Neither: no sigmoid fires", sets.neither, "neither", "neither", "neither per true class"),
    )
    per_class = sets.per_class
for column, (title, indices, count_name, order, chart_title) in zip(
    st.columns(2), galleries, strict=True
):
    with column:
        st.markdown(f"**{title}** — {len(indices):,} images")
        column.altair_chart(
            charts_analysis.class_counts_chart(
                charts_analysis.per_class_counts(per_class, count_name),
                chart_title,
            ),
            width="stretch",
        )
        if len(indices):
            shown = charts_analysis.gallery(
                run.validation.images,
                charts_analysis.most_striking(indices, probabilities, order)[:GALLERY_SIZE],
                probabilities,
                targets,
                class_names,
                threshold,
            )
            st.image(shown.images, caption=shown.captions, width=72)
        else:
            st.caption("None at this threshold.")
