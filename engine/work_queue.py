"""The server's one line for heavy work: at most `max_trainings` (engine.hosting; 1 on a 2-core
machine) holders at once, the others wait in the order they came, with their place known.

Background jobs (engine.jobs: trainings and experiments) wait here from their worker thread;
loading an uploaded dataset waits here from the page's own thread (`work_slot`), so nothing
heavy runs beside the trainings. Prediction never waits in it. The line has a length limit
(`max_waiting`), so a crowd gets a clear "try again" rather than an endless wait.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager

from engine import hosting


class SlotQueue:
    """At most `slots` holders at once, the others wait in the order they came. Holders are
    any objects (a job, a token for a data load)."""

    def __init__(self) -> None:
        self._condition = threading.Condition()
        self._waiting: list[object] = []
        self._holders: list[object] = []

    @property
    def slots(self) -> int:
        return hosting.hosting_limits().max_trainings  # read each time: a changed setting applies

    def position(self, holder: object) -> int | None:
        """1 for the next to start, 2 behind it, ...; None when not waiting."""
        with self._condition:
            return self._waiting.index(holder) + 1 if holder in self._waiting else None

    def waiting(self) -> int:
        with self._condition:
            return len(self._waiting)

    @contextmanager
    def slot(
        self,
        holder: object,
        cancelled: Callable[[], bool] = lambda: False,
        on_wait: Callable[[int], None] | None = None,
        poll: float = 0.25,
    ) -> Iterator[bool]:
        """Wait for a slot, then hold it inside the block; yields False (holding nothing) when
        `cancelled()` turned true first. `on_wait(place)` is called while waiting; whatever
        it raises leaves the line and propagates."""
        acquired = False
        with self._condition:
            self._waiting.append(holder)
        try:
            while True:
                with self._condition:
                    place = self._waiting.index(holder)
                    if place < self.slots - len(self._holders):
                        self._waiting.remove(holder)
                        self._holders.append(holder)
                        acquired = True
                        break
                if cancelled():
                    break
                if on_wait is not None:
                    on_wait(place + 1)
                with self._condition:
                    self._condition.wait(poll)
        finally:
            if not acquired:
                with self._condition:
                    if holder in self._waiting:
                        self._waiting.remove(holder)
                    self._condition.notify_all()
        try:
            yield acquired
        finally:
            if acquired:
                with self._condition:
                    self._holders.remove(holder)
                    self._condition.notify_all()


QUEUE = SlotQueue()  # the one line of this server


def check_line_length() -> None:
    """QuotaError when `max_waiting` holders wait already: checked before joining the line."""
    limit = hosting.hosting_limits().max_waiting
    if QUEUE.waiting() >= limit:
        raise hosting.QuotaError(
            f"{limit} trainings and uploads are waiting for the server already: try again in "
            "a few minutes"
        )


@contextmanager
def work_slot(on_wait: Callable[[int], None] | None = None) -> Iterator[None]:
    """Hold one of the server's slots for heavy work done in the caller's thread (loading an
    uploaded dataset), waiting in line with the trainings first. `on_wait(place)` is called
    while waiting; an exception it raises (the visitor left) leaves the line. QuotaError when
    the line is full."""
    check_line_length()
    with QUEUE.slot(object(), on_wait=on_wait):
        yield
