"""The command line's options for the config fields, and the config built back from them.

Each option is read off its dataclass field in engine/config.py: the type from the annotation,
the default from the dataclass, the help text and any choices from the field's `setting`, and
booleans as `--x` / `--no-x`. So a setting is described once, and a new field with a help text
is an option of `train` without touching the command line. Torch-free, like engine/config.py,
so `python -m engine --help` stays fast.
"""

from __future__ import annotations

import argparse
import types
import typing
from collections.abc import Iterable
from dataclasses import Field, fields
from typing import Any

from engine.config import DataConfig, ModelConfig, RunConfig, TrainConfig

# RunConfig's parts, in the order their options are listed, and the title of each group.
PARTS = (("data", DataConfig), ("model", ModelConfig), ("training", TrainConfig))


def config_settings(names: Iterable[str] | None = None) -> list[tuple[str, type, Field]]:
    """(part title, part class, field) of every setting offered on the command line, in
    RunConfig's order; only those named in `names` (field names) when given."""
    wanted = None if names is None else set(names)
    chosen = [
        (title, part, item)
        for title, part in PARTS
        for item in fields(part)
        if item.metadata.get("on_command_line") and (wanted is None or item.name in wanted)
    ]
    unknown = (wanted or set()) - {item.name for _, _, item in chosen}
    if unknown:
        raise ValueError(f"not settings offered on the command line: {sorted(unknown)}")
    return chosen


def add_config_options(
    parser: argparse.ArgumentParser, names: Iterable[str] | None = None
) -> tuple[str, ...]:
    """Add one option per setting (all, or those in `names`), grouped as data, model and
    training options; return the field names, which are also the options' `dest`."""
    groups: dict[str, Any] = {}
    added = []
    for title, part, item in config_settings(names):
        if title not in groups:
            groups[title] = parser.add_argument_group(f"{title} options")
        flag = item.metadata["flag"] or "--" + item.name.replace("_", "-")
        groups[title].add_argument(flag, dest=item.name, **_option_details(part, item, flag))
        added.append(item.name)
    return tuple(added)


def config_from_options(args: argparse.Namespace, names: Iterable[str]) -> RunConfig:
    """The default RunConfig with the parsed options of `names` put in (validated there)."""
    return RunConfig().with_changes(**{name: getattr(args, name) for name in names})


def _option_details(part: type, item: Field, flag: str) -> dict[str, Any]:
    """add_argument's keywords for one field."""
    kind = _value_type(part, item)
    help_text = item.metadata["help"]
    if kind is bool:
        help_text += f" (default: {'on' if item.default else 'off'})"
    elif item.default is not None:
        help_text += " (default: %(default)s)"
    details: dict[str, Any] = {"default": item.default, "help": help_text}
    if kind is bool:
        details["action"] = argparse.BooleanOptionalAction
        return details
    details["type"] = kind
    if item.metadata["choices"]:
        details["choices"] = item.metadata["choices"]
    else:
        details["metavar"] = flag.removeprefix("--").replace("-", "_").upper()
    return details


def _value_type(part: type, item: Field) -> type:
    """The field's annotation, resolved, with `| None` dropped: `int | None` -> int."""
    annotation = typing.get_type_hints(part)[item.name]
    if isinstance(annotation, types.UnionType):
        [annotation] = [kind for kind in typing.get_args(annotation) if kind is not type(None)]
    return annotation
