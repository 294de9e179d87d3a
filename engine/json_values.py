"""Strict JSON for what the engine prints or hands to scripts: the one sanitiser.

JSON has no NaN or infinity; `plain_json` writes them as null, turns numpy and torch values
(anything with `tolist`) into Python numbers and lists, tuples into lists and paths into
strings. `json_text` is the text `--json` prints.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from pathlib import PurePath
from typing import Any


def plain_json(value: Any) -> Any:
    """`value` as plain, strict JSON values: non-finite floats become None."""
    if isinstance(value, bool | int | str) or value is None:
        return value
    if isinstance(value, float):
        return float(value) if math.isfinite(value) else None
    if isinstance(value, Mapping):
        return {key: plain_json(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [plain_json(item) for item in value]
    if isinstance(value, PurePath):
        return str(value)
    if hasattr(value, "tolist"):  # numpy scalars and arrays, torch tensors
        return plain_json(value.tolist())
    return value  # anything else: json.dumps says it cannot be written


def json_text(value: Any) -> str:
    """Indented, strict JSON text (NaN and infinities as null)."""
    return json.dumps(plain_json(value), indent=2, allow_nan=False)
