"""Config sections bound to typed, frozen dataclasses: the dataclass names every key the config may set.

    bind(TrainParams, {"steps": 10, "lr": 1e-3}, "approaches.x.params.train") -> TrainParams(steps=10, ...)

fills defaults, binds nested dataclasses recursively, turns lists into tuples where a field is
typed as a tuple, and raises a one-line `ParamsError` naming the key for an unknown or a missing
key, so a misspelt key is an error wherever it appears. `from_signature` makes the dataclass of a
network's sizes from the network's own signature (NVlabs/edm's way: a network's defaults live in the
network). `canonical(value)` is the same value with every mapping's keys sorted: Snakemake compares
`params:` by their repr, so the same settings written in another order must give the same string.
"""

from __future__ import annotations

import ast
import dataclasses
import importlib.util
import types
import typing
from pathlib import Path
from typing import Any, TypeVar

T = TypeVar("T")


class ParamsError(ValueError):
    """A config section does not fit its dataclass; the message names the key and the fix."""


def _is_tuple(hint) -> bool:
    return typing.get_origin(hint) is tuple


def _dataclass_of(hint):
    """The dataclass of a field typed `D` or `D | None`, else None."""
    if dataclasses.is_dataclass(hint):
        return hint
    if typing.get_origin(hint) in (typing.Union, types.UnionType):
        found = [arg for arg in typing.get_args(hint) if dataclasses.is_dataclass(arg)]
        return found[0] if len(found) == 1 else None
    return None


def bind(cls: type[T], values: Any, where: str) -> T:
    """`cls(**values)` with nested dataclasses bound too; errors name `where` (a dotted config key)."""
    if isinstance(values, cls):
        return values
    if not isinstance(values, dict):
        raise ParamsError(f"config key {where}: expected a mapping, got {type(values).__name__} {values!r}")
    fields = {field.name: field for field in dataclasses.fields(cls)}
    unknown = sorted(set(values) - set(fields))
    if unknown:
        raise ParamsError(f"config key {where}.{unknown[0]}: unknown key; {cls.__name__} takes {sorted(fields)}")
    hints = typing.get_type_hints(cls)
    kwargs = {}
    for name, value in values.items():
        hint, nested = hints[name], _dataclass_of(hints[name])
        if nested is not None and value is not None:
            value = bind(nested, value, f"{where}.{name}")
        elif _is_tuple(hint) and isinstance(value, list):
            value = tuple(value)
        kwargs[name] = value
    for name, field in fields.items():
        required = field.default is dataclasses.MISSING and field.default_factory is dataclasses.MISSING
        if required and name not in kwargs:
            raise ParamsError(f"config key {where}.{name}: required by {cls.__name__}; add it")
    try:
        return cls(**kwargs)
    except ParamsError as err:  # a dataclass's own check across its keys (__post_init__)
        raise ParamsError(f"config key {where}: {err}") from None


def canonical(value: Any) -> Any:
    """`value` (dataclasses, mappings, sequences) as plain data with every mapping's keys sorted."""
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        value = {field.name: getattr(value, field.name) for field in dataclasses.fields(value)}
    if isinstance(value, dict):
        return {key: canonical(value[key]) for key in sorted(value)}
    if isinstance(value, (list, tuple)):
        return [canonical(item) for item in value]
    return value


def field_names(cls) -> set[str]:
    """Every key a dataclass accepts (for tests that keep the schema and the dataclass in step)."""
    return {field.name for field in dataclasses.fields(cls)}


def from_signature(name: str, target: str, *, exclude: tuple[str, ...] = (), module: str | None = None) -> type:
    """A frozen dataclass `name` of the keyword parameters of `target` ("module:Class", its __init__) with their
    defaults, but for `exclude` (those the family sets from the data): one place for a network's default sizes.

    The signature is read from the module's source, never imported: a network's module imports torch, and the
    config binds every approach before any job (`snakemake -n`). Every default must be a literal.
    """
    module_name, _, qualname = target.partition(":")
    source = Path(importlib.util.find_spec(module_name).origin)
    classes = [node for node in ast.walk(ast.parse(source.read_text())) if isinstance(node, ast.ClassDef)
               and node.name == qualname]
    init = next(node for node in classes[0].body if isinstance(node, ast.FunctionDef) and node.name == "__init__")
    args = init.args
    positional = args.args[1:]  # without self
    pairs = [*zip(positional[len(positional) - len(args.defaults):], args.defaults, strict=True),
             *zip(args.kwonlyargs, args.kw_defaults, strict=True)]
    fields = [(arg.arg, ast.unparse(arg.annotation), dataclasses.field(default=ast.literal_eval(default)))
              for arg, default in pairs if arg.arg not in exclude and default is not None]
    cls = dataclasses.make_dataclass(name, fields, frozen=True)
    cls.__module__ = module or __name__
    cls.__doc__ = f"The sizes of `{target}` a config may set, with its defaults (`params.from_signature`)."
    return cls
