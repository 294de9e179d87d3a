"""Errors a user can cause, each with a message that says what to do.

Everything the engine raises on bad input is an `EngineError`. The command line turns it into
one `error: ...` line and exit status 2; the dashboard shows it as a message. Programming
errors stay ordinary exceptions, so they are never hidden.
"""

from __future__ import annotations


class EngineError(Exception):
    """A problem with the user's input or environment; the message names the fix."""


class LabelShapeError(EngineError, ValueError):
    """Targets do not fit the label mode or the model's outputs."""


class DatasetError(EngineError):
    """A dataset cannot be found, downloaded or read.

    `for_visitor`, when set, says the same without the server's folders, for a page that a
    stranger sees and who cannot put files on the server."""

    def __init__(self, message: str, for_visitor: str | None = None) -> None:
        super().__init__(message)
        self.for_visitor = for_visitor


class ImageError(EngineError):
    """An uploaded or listed image cannot be used."""


class ArchiveError(EngineError):
    """An uploaded archive is unsafe or malformed."""


class RunError(EngineError):
    """A saved run is missing, damaged or cannot be loaded."""


class ModelError(EngineError):
    """An unknown architecture, or a head that cannot be found or replaced."""


class TrainingError(EngineError):
    """Training cannot go on: its loss diverged, or the data is too small for the model."""
