"""Explore page: where a run's sigmoids reveal confusion.

The run, threshold (global or tuned per class) and chosen pair live in the URL, so a copied
link reopens this view. Shows the confusion matrix, the sigmoid co-activation heatmap (click a
cell to choose a pair), the ranked pair list, sigmoid(a) against sigmoid(b) for the chosen pair
with its most ambiguous images, and galleries of "both" and "neither" at the threshold. Every
pair can be chosen, from the heatmap, the table or the chooser. Then the threshold lesson:
accuracy_multi, exact match and macro F1 against the threshold, and per-class thresholds tuned
on one half of the validation images and scored on the other, which can be saved with the run
for Predict and `predict --threshold tuned`. All numbers come from `engine.analysis`.

When the run's images carry several labels each (two-digits, multi-hot CSV sets), two firing
classes are often right, so the page reads like a multi-label task: exact match and macro F1
as the headline, a per-class precision / recall / F1 table, galleries of wrong label sets (a
missed label, an extra label) instead of "both" and "neither", and no argmax confusion matrix.
"""

from __future__ import annotations

import streamlit as st

from dashboard import charts_analysis, glossary, links, messages, session, tables
from engine.analysis import (
    coactivation,
    confused_pairs,
    confusion_matrix,
    firing_sets,
    held_out_tuning,
    threshold_curve,
    threshold_metrics,
    tune_thresholds,
    wrong_label_sets,
)
from engine.errors import EngineError
from engine.labels import activation
from engine.metric_names import metric_title
from engine.runs import read_tuned_thresholds, save_tuned_thresholds

GALLERY_SIZE = 24
PAIR_ROWS = None  # every pair is listed and can be chosen; K=10 has 45
STRENGTH_DEFINITION = (
    "**Strength** of a pair a-b: over the validation images that are truly a or truly b, the "
    "average of the smaller of the two sigmoids, min(sigmoid a, sigmoid b); it is high when "
    "both classes fire together on the same images."
)
COACTIVATION_CHART = "explore_coactivation_chart"
PAIR_TABLE = "explore_pair_table"

st.title("Explore")
st.write(
    "Read every class through its own sigmoid and look for images where two classes fire "
    "at once (a 1 that is also a 7) or none does."
)

run = session.analysis_run_picker(page="explore")
if run is None:
    links.end_page()
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
    help="One threshold per class, chosen to maximise that class's F1 on these outputs "
    "(in-sample: 'Choosing the threshold' below scores tuning on held-out images).",
    **links.bind_flag(links.PER_CLASS),
)
global_threshold = links.threshold_slider(
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
    messages.show_error(f"This run's saved outputs cannot be analysed: {error}. Train it again.")
    links.end_page()
if pairs.empty:
    st.info("This run has a single class, so there are no pairs to confuse.")
    links.end_page()

if per_class:
    st.caption(
        "Tuned thresholds: "
        + ", ".join(
            f"{messages.plain(name)}: {value:.2f}"
            for name, value in zip(class_names, threshold, strict=True)
        )
    )

images = len(probabilities)
counts = st.columns(4)
counts[0].metric("Validation images", f"{images:,}")
if several:
    counts[1].metric(
        metric_title("exact_match"),
        f"{metrics.exact_match:.3f}",
        help="Share of images whose set of firing classes is exactly their set of labels.",
    )
    counts[2].metric(metric_title("macro_f1"), f"{metrics.macro_f1:.3f}")
    counts[3].metric("Wrong label sets", f"{wrong.wrong_count:,}")
    st.caption(
        "These images carry several labels each, so two classes firing together is often "
        "right: the headline is exact match and macro F1, not argmax accuracy."
    )
    st.dataframe(
        tables.per_class_table(metrics.per_class),
        width="stretch",
        key="explore_per_class",
    )
else:
    counts[1].metric("Both (2+ fire)", f"{sets.both_count:,}")
    counts[2].metric("Neither (none fires)", f"{sets.neither_count:,}")
    counts[3].metric(metric_title("macro_f1"), f"{metrics.macro_f1:.3f}")

pair_labels = [tables.pair_label(a, b) for a, b in zip(pairs["a"], pairs["b"], strict=True)]
chosen_label = st.selectbox(
    "Pair",
    pair_labels,
    index=0,
    help="Or click a cell of the co-activation heatmap.",
    **links.bind_choice(links.PAIR, pair_labels),
)
chosen = pairs.iloc[pair_labels.index(chosen_label)]
pair = (str(chosen["a"]), str(chosen["b"]))

heatmap_column, confusion_column = st.columns(2) if not several else (st.container(), None)
heatmap_column.altair_chart(
    charts_analysis.coactivation_chart(matrices.to_frame(), selected=pair),
    key=COACTIVATION_CHART,
    on_select=session.pair_click_handler(
        COACTIVATION_CHART,
        charts_analysis.PAIR_SELECTION,
        tables.pair_labels_by_cell(pairs),
    ),
    selection_mode=charts_analysis.PAIR_SELECTION,
    width="stretch",
)
if confusion_column is not None:  # an argmax matrix means nothing for images of two labels
    confusion_column.altair_chart(
        charts_analysis.confusion_matrix_chart(confusion), width="stretch"
    )

st.subheader("Confused pairs, strongest first")
st.markdown(STRENGTH_DEFINITION)
st.caption(
    f"All {len(pairs)} pairs are listed: tick a row's box to look at that pair, or click a cell "
    "of the heatmap."
)
st.dataframe(
    tables.pair_table(pairs),
    hide_index=True,
    width="stretch",
    key=PAIR_TABLE,
    on_select=session.pair_row_handler(PAIR_TABLE, pair_labels),
    selection_mode="single-row",
)

shown_a, shown_b = messages.plain(pair[0]), messages.plain(pair[1])  # class names are user text
st.subheader(f"{shown_a} or {shown_b}?")
st.write(
    f"{int(chosen['both_count'])} images fire both {shown_a} and {shown_b} at this threshold "
    f"({int(chosen['true_a'])} truly {shown_a}, {int(chosen['true_b'])} truly {shown_b}); "
    f"argmax took {int(chosen['confused_a_as_b'])} {shown_a}s for {shown_b} and "
    f"{int(chosen['confused_b_as_a'])} {shown_b}s for {shown_a}."
)
points = tables.pair_points(
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
        shown = tables.gallery(run.validation.images, examples, probabilities, targets, class_names)
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
                tables.per_class_counts(per_class, count_name),
                chart_title,
            ),
            width="stretch",
        )
        if len(indices):
            shown = tables.gallery(
                run.validation.images,
                tables.most_striking(indices, probabilities, order)[:GALLERY_SIZE],
                probabilities,
                targets,
                class_names,
                threshold,
            )
            st.image(shown.images, caption=shown.captions, width=72)
        else:
            st.caption("None at this threshold.")


def show_threshold_lesson(current: float) -> None:
    """fastbook's plot of the metrics against the threshold, then per-class thresholds tuned
    on one half of the validation images and scored on the other, with a button to save them."""
    st.subheader("Choosing the threshold")
    st.write(
        "A class fires when its sigmoid is at or above the threshold. fastbook chooses the "
        "threshold by plotting the metrics against it on the validation set; the dashed line "
        "is the threshold set above."
    )
    curve = threshold_curve(probabilities, targets)
    st.altair_chart(charts_analysis.threshold_curve_chart(curve, current), width="stretch")
    best = curve.loc[curve["macro_f1"].idxmax()]
    st.caption(
        f"Best macro F1 {best['macro_f1']:.3f} at {best['threshold']:.2f}; "
        f"accuracy_multi ranges {curve['accuracy_multi'].min():.3f}-"
        f"{curve['accuracy_multi'].max():.3f} over the same thresholds. "
        + glossary.FASTAI["threshold"]
    )

    st.markdown("**One threshold per class, scored honestly**")
    try:
        tuning = held_out_tuning(probabilities, targets, class_names, threshold=current)
    except ValueError as error:
        st.info(f"Per-class tuning is not possible here: {error}.")
        return
    first, second = tuning.half_sizes
    st.write(
        f"Thresholds tuned to each class's best F1 on half of the validation images ({first}) "
        f"are scored on the other half ({second}), and the other way round, so no image is "
        "scored by thresholds chosen on it."
    )
    st.dataframe(tables.tuning_table(tuning), hide_index=True, width="stretch")
    gain = tuning.held_out["macro_f1"] - tuning.before["macro_f1"]
    optimism = tuning.in_sample["macro_f1"] - tuning.held_out["macro_f1"]
    st.caption(
        f"On held-out images, tuning changes macro F1 by {gain:+.3f}. Scored on the images it "
        f"was tuned on, it would seem to change it by {gain + optimism:+.3f}: the difference is "
        "luck, not skill."
    )
    table = metrics.per_class[["support", "precision", "recall", "f1"]].copy()
    table.columns = ["images with it", "precision", "recall", f"F1 at {current:.2f}"]
    table["tuned threshold"] = tuning.per_class["threshold"].round(3)
    table["F1 tuned, held out"] = tuning.per_class["f1_held_out"]
    st.dataframe(table.round(3), width="stretch")
    saved = None
    try:
        saved = read_tuned_thresholds(run)
    except EngineError as error:
        st.warning(str(error))
    if saved is not None:
        st.caption(
            f"Thresholds saved with this run ({saved.created or 'date unknown'}): Predict and "
            "`predict --threshold tuned` use them."
        )
    if run.read_only:
        st.caption(
            "This demo run ships with the app and is read-only: train a run of your own to "
            "save tuned thresholds with it."
        )
        return
    if st.button("Save these thresholds with the run", icon="💾", key="explore_save_thresholds"):
        try:
            save_tuned_thresholds(run, tuning.thresholds, tuning.to_dict())
        except EngineError as error:
            st.error(str(error))
        else:
            st.success(
                "Saved beside the run's run.json: Predict offers them, and "
                f"`python -m engine predict {run.id} IMAGE --threshold tuned` uses them."
            )


show_threshold_lesson(float(global_threshold))
