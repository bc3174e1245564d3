"""Typed access to params.yaml, one section per stage, with errors that name the key and the fix."""

import dataclasses
import types
import typing
from pathlib import Path

import yaml

from lenet5.errors import UserError

PARAMS_FILE = Path("params.yaml")


class ParamsError(UserError, ValueError):
    pass


def _type_ok(value, annotation) -> bool:
    origin = typing.get_origin(annotation)
    if origin in (typing.Union, types.UnionType):
        return any(_type_ok(value, arg) for arg in typing.get_args(annotation))
    if annotation is type(None):
        return value is None
    if origin is list:
        (item,) = typing.get_args(annotation)
        return isinstance(value, list) and all(_type_ok(v, item) for v in value)
    if annotation is float:
        return isinstance(value, (int, float)) and not isinstance(value, bool)
    if annotation is int:
        return isinstance(value, int) and not isinstance(value, bool)
    return isinstance(value, annotation)


def load(cls, section: str, path: Path = PARAMS_FILE):
    """Build the dataclass `cls` from params.yaml's `section`; unknown, missing or mistyped keys are errors."""
    try:
        document = yaml.safe_load(Path(path).read_text()) or {}
    except (OSError, yaml.YAMLError) as err:
        raise ParamsError(f"{path}: cannot read it ({err})") from err
    values = document.get(section)
    if not isinstance(values, dict):
        raise ParamsError(f"{path}: section '{section}' is missing; see the README for its keys")
    fields = {f.name: f for f in dataclasses.fields(cls)}
    hints = typing.get_type_hints(cls)
    unknown = sorted(set(values) - set(fields))
    if unknown:
        raise ParamsError(f"{path}: unknown key {section}.{unknown[0]}; valid keys: {', '.join(fields)}")
    for name, field in fields.items():
        if name not in values:
            if field.default is dataclasses.MISSING and field.default_factory is dataclasses.MISSING:
                raise ParamsError(f"{path}: {section}.{name} is missing")
            continue
        if not _type_ok(values[name], hints[name]):
            expected = getattr(hints[name], "__name__", str(hints[name]))
            raise ParamsError(f"{path}: {section}.{name} must be {expected}, got {values[name]!r}")
    params = cls(**values)
    check = getattr(params, "check", None)
    if check:
        try:
            check()
        except ValueError as err:
            raise ParamsError(f"{path}: {err}") from err
    return params
