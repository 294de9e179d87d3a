"""A run's twin in the other label mode, and when there can be none: the one place that says
so, for the pages that offer twins (Compare, Forum).

Softmax trains on one class index per image. Data whose images carry several labels, or none
(two-digits, a multi-label CSV set), has no class index, so it has no softmax twin.
"""

from __future__ import annotations

NO_SOFTMAX_TWIN = (
    "This run's data is multi-label: an image with several labels, or none, has no class "
    "index, so softmax cannot train it and there is no softmax twin to compare."
)


def has_no_softmax_twin(run) -> bool:
    """The run's data is multi-hot (images with several labels, or none): a multi-class twin
    could not be trained on it."""
    return run.validation.targets.ndim == 2
