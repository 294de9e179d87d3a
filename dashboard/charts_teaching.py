"""Tables and the chart of the Compare page's "Teaching 'none'" experiment.

Each builder takes `engine.analysis.experiments.TeachingNone`'s frames and returns a table to
show or an Altair chart; the numbers themselves all come from the engine.
"""

from __future__ import annotations

import altair as alt
import pandas as pd

from dashboard.charts_analysis import FIT_WIDTH

MODELS = ("without", "with")
RESULT_ROWS = {  # engine column -> shown row; rates shown as percentages
    "digit_accuracy": "digit accuracy (exact match) %",
    "digit_argmax_accuracy": "digit accuracy (argmax) %",
    "digit_neither_rate": 'digits called "neither" %',
    "non_digit_neither_rate": 'unseen non-digits called "neither" %',
    "seconds": "training seconds",
}
TAUGHT, HELD_OUT = "taught as 'none'", "held out (never taught)"


def model_label(model: str, none_examples: int) -> str:
    """ "without all-zero examples" / "with 1,000 all-zero examples"."""
    return (
        "without all-zero examples"
        if model == "without"
        else f"with {none_examples:,} all-zero examples"
    )


def results_table(results: pd.DataFrame, none_examples: int) -> pd.DataFrame:
    """TeachingNone.results turned on its side: one row per number, one column per model
    (narrow enough to read whole), rates in percent; everything rounded to 0.1."""
    table = pd.DataFrame(
        {
            model_label(model, none_examples): [
                float(results.loc[model, column]) * (1 if column == "seconds" else 100)
                for column in RESULT_ROWS
            ]
            for model in MODELS
        },
        index=pd.Index(list(RESULT_ROWS.values()), name="measure"),
    )
    return table.round(1)


def neither_by_kind(per_kind: pd.DataFrame, none_examples: int) -> pd.DataFrame:
    """Long form of TeachingNone.per_kind: kind, group (taught / held out), model, percent;
    taught kinds first."""
    rows = [
        {
            "kind": str(kind) + ("" if bool(row["taught"]) else " (held out)"),
            "group": TAUGHT if bool(row["taught"]) else HELD_OUT,
            "model": model_label(model, none_examples),
            "order": MODELS.index(model),
            "neither %": round(float(row[model]) * 100, 1),
        }
        for kind, row in per_kind.iterrows()
        for model in MODELS
    ]
    frame = pd.DataFrame(rows, columns=["kind", "group", "model", "order", "neither %"])
    return frame.sort_values(["group", "kind", "order"], key=_taught_first, kind="stable")


def _taught_first(column: pd.Series) -> pd.Series:
    return column.map({TAUGHT: 0, HELD_OUT: 1}) if column.name == "group" else column


def neither_by_kind_chart(frame: pd.DataFrame) -> alt.LayerChart:
    """Grouped bars: per kind of unseen non-digit, the "neither" rate without and with the
    all-zero examples. Held-out kinds come last, named "(held out)", lighter and outlined, so
    what was taught and what was not never blur together."""
    kinds = list(dict.fromkeys(frame["kind"]))
    models = list(dict.fromkeys(frame.sort_values("order")["model"]))
    base = alt.Chart(frame).encode(
        x=alt.X("kind:N", sort=kinds, title=None, axis=alt.Axis(labelAngle=0)),
        xOffset=alt.XOffset("model:N", sort=models),
        y=alt.Y("neither %:Q", scale=alt.Scale(domain=[0, 105]), title='says "neither" %'),
    )
    bars = base.mark_bar().encode(
        color=alt.Color(
            "model:N", sort=models, title=None, legend=alt.Legend(orient="bottom", labelLimit=0)
        ),
        opacity=alt.Opacity(
            "group:N", scale=alt.Scale(domain=[TAUGHT, HELD_OUT], range=[1.0, 0.55]), legend=None
        ),
        stroke=alt.condition(alt.datum.group == HELD_OUT, alt.value("#31333f"), alt.value(None)),
        strokeDash=alt.value([4, 3]),
        strokeWidth=alt.value(1.5),
        tooltip=["kind:N", "group:N", "model:N", "neither %:Q"],
    )
    labels = base.mark_text(dy=-6, fontSize=11).encode(text=alt.Text("neither %:Q", format=".0f"))
    return (bars + labels).properties(
        title='"Neither" on unseen non-digits, by kind', height=280, autosize=FIT_WIDTH
    )
