"""Which saved runs go together: a softmax-trained run and a sigmoid-trained run of one
dataset, compared side by side. Pure logic on run records (engine.runs.RunSummary and
LoadedRun), so the Compare and Forum pages only show what is chosen here.
"""

from __future__ import annotations

from collections.abc import Sequence

from engine.modes import other_mode


def default_comparison(summaries: Sequence) -> list[str]:
    """The runs Compare opens with: the newest softmax-trained and sigmoid-trained runs of one
    dataset among the user's runs, else the shipped (read-only) demo pair, else any such pair,
    else the two newest. `summaries` are newest first; a pair never mixes a user's run with a
    demo run while a cleaner pair exists, since the demos' settings differ from the user's."""
    own = [summary for summary in summaries if not getattr(summary, "read_only", False)]
    shipped = [summary for summary in summaries if getattr(summary, "read_only", False)]
    for candidates in (own, shipped, list(summaries)):
        for first in candidates:
            for second in candidates:
                if (
                    first.dataset == second.dataset
                    and first.mode == "multi-class"
                    and second.mode == "multi-label"
                ):
                    return [first.id, second.id]
    return [summary.id for summary in summaries[:2]]


def saved_twin(run, summaries: Sequence) -> str | None:
    """The id of the newest saved run in the other mode with `run`'s dataset, model and
    epochs (its twin), or None."""
    for summary in summaries:
        if (
            summary.mode == other_mode(run.mode)
            and summary.dataset == run.config.data.dataset
            and summary.model == run.config.model.name
            and summary.epochs == run.config.train.epochs
        ):
            return summary.id
    return None


def matching_pair(softmax_runs: Sequence, sigmoid_runs: Sequence) -> tuple | None:
    """A (softmax-trained, sigmoid-trained) pair of loaded runs on the same dataset, or None."""
    for softmax_run in softmax_runs:
        for sigmoid_run in sigmoid_runs:
            if softmax_run.config.data.dataset == sigmoid_run.config.data.dataset:
                return softmax_run, sigmoid_run
    return None
