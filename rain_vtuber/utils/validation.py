"""The one formatter of pydantic validation errors: one line per problem, naming the key and what is allowed.

Config files, calibrations, character files and command-line settings all fail the same way:
"unknown key 'source.camra'; allowed keys here: kind, camera, ..." or "'shape.eye_height_ratio' = 9.0:
Input should be less than or equal to 4; allowed: a number from 0.1 to 4.0".
"""

from __future__ import annotations

import types
import typing
from typing import Any, Union

import annotated_types
from pydantic import BaseModel, ValidationError
from pydantic.fields import FieldInfo

_BOUNDS = (("ge", ">="), ("gt", ">"), ("le", "<="), ("lt", "<"))


def describe_errors(err: ValidationError, model: type[BaseModel] | None = None) -> str:
    """`err` as one line: the dotted key, what is wrong and, where `model` knows, what is allowed there."""
    lines = []
    for problem in err.errors():
        loc = [str(part) for part in problem["loc"]]
        key = ".".join(loc) or "(top level)"
        kind = problem["type"]
        if kind == "extra_forbidden":
            allowed = _keys_at(model, loc[:-1]) if model is not None else []
            lines.append(f"unknown key '{key}'" + (f"; allowed keys here: {', '.join(allowed)}" if allowed else ""))
        elif kind == "value_error":
            message = problem["msg"].removeprefix("Value error, ")
            lines.append(f"{key}: {message}" if loc else message)
        else:
            allowed = _allowed(_field_at(model, loc)) if model is not None else ""
            got = problem.get("input")
            lines.append(f"'{key}' = {got!r}: {problem['msg']}" + (f"; allowed: {allowed}" if allowed else ""))
    return "; ".join(lines)


def _members(annotation: Any) -> list[Any]:
    """The types an annotation admits: Annotated, Optional and unions unwrapped."""
    origin = typing.get_origin(annotation)
    if origin is typing.Annotated:
        return _members(typing.get_args(annotation)[0])
    if origin in (Union, types.UnionType):
        return [m for arg in typing.get_args(annotation) for m in _members(arg)]
    return [annotation]


def _step(annotation: Any, part: str) -> tuple[Any, FieldInfo | None] | None:
    """One key down from `annotation`: a model field, a list element, or the union member a `kind` tag names."""
    for member in _members(annotation):
        origin = typing.get_origin(member)
        if origin in (list, tuple) and part.isdigit():
            return typing.get_args(member)[0], None
        fields = getattr(member, "model_fields", None)
        if fields is None:
            continue
        if part in fields:
            return fields[part].annotation, fields[part]
    tagged = [m for m in _members(annotation) if getattr(getattr(m, "model_fields", {}).get("kind"), "default", None) == part]
    return (tagged[0], None) if tagged else None


def _walk(model: Any, loc: list[str]) -> tuple[Any, FieldInfo | None] | None:
    here: tuple[Any, FieldInfo | None] | None = (model, None)
    for part in loc:
        here = _step(here[0], part) if here is not None else None
    return here


def _field_at(model: Any, loc: list[str]) -> FieldInfo | None:
    found = _walk(model, loc)
    return found[1] if found else None


def _keys_at(model: Any, loc: list[str]) -> list[str]:
    found = _walk(model, loc)
    if found is None:
        return []
    return [k for m in _members(found[0]) for k in getattr(m, "model_fields", {})]


def _allowed(info: FieldInfo | None) -> str:
    """Human text for a field's type and range, e.g. 'a number from 0.1 to 4.0'."""
    if info is None:
        return ""
    annotation = info.annotation
    if annotation is bool:
        return "true or false"
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return f"a mapping with keys {', '.join(annotation.model_fields)}"
    if typing.get_origin(annotation) is typing.Literal:
        return ", ".join(str(v) for v in typing.get_args(annotation))
    limits = {kind: getattr(meta, kind) for meta in info.metadata for kind, _ in _BOUNDS
              if isinstance(meta, getattr(annotated_types, kind.capitalize()))}
    nullable = " (or null)" if type(None) in _members(annotation) else ""
    if "ge" in limits and "le" in limits:
        return f"a number from {limits['ge']} to {limits['le']}{nullable}"
    if limits:
        return "a number " + " and ".join(f"{word} {limits[kind]}" for kind, word in _BOUNDS if kind in limits) + nullable
    return str(annotation).replace("typing.", "")
