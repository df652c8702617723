"""Bind plain JSON (from a Jsonnet recipe) to typed dataclasses, failing early and loudly.

Every error names the JSON path of the offending value (``$.model.backbone.freeze``), so a
typo in a 200-line recipe is found before a single tensor is allocated.
"""
from __future__ import annotations

import dataclasses
import types
import typing
from dataclasses import dataclass, field
from typing import Any, Literal, Union, get_args, get_origin, get_type_hints

from cbf.registry import RegistryError, load_plugin


class ConfigError(ValueError):
    """A recipe value that does not fit its declared type."""

    def __init__(self, path: str, message: str) -> None:
        super().__init__(f"{path}: {message}")
        self.path = path


@dataclass
class Component:
    """A bound plugin reference: ``{"type": name, ...options}`` in the recipe."""

    kind: str
    type: str
    config: Any
    factory: Any = field(repr=False, default=None)

    def build(self, *args: Any, **kwargs: Any) -> Any:
        return self.factory(self.config, *args, **kwargs)

    def to_json(self) -> dict[str, Any]:
        return {"type": self.type, **to_json(self.config)}


def plugin(kind: str, default: Any = dataclasses.MISSING, **kw: Any) -> Any:
    """Declare a dataclass field whose recipe value is a ``{"type": ...}`` plugin reference."""
    meta = {"plugin": kind}
    if default is dataclasses.MISSING and "default_factory" not in kw:
        return field(metadata=meta, **kw)
    if default is dataclasses.MISSING:
        return field(metadata=meta, **kw)
    return field(default=default, metadata=meta, **kw)


def _type_name(tp: Any) -> str:
    return getattr(tp, "__name__", None) or str(tp).replace("typing.", "")


def _json_kind(value: Any) -> str:
    return {dict: "object", list: "array", str: "string", bool: "boolean", int: "integer",
            float: "number", type(None): "null"}.get(type(value), type(value).__name__)


def bind(tp: Any, value: Any, path: str = "$") -> Any:
    """Convert ``value`` to ``tp`` or raise :class:`ConfigError` naming ``path``."""
    if tp is Any:
        return value
    origin = get_origin(tp)
    if origin is Union or (hasattr(types, "UnionType") and isinstance(tp, types.UnionType)):
        options = get_args(tp)
        if value is None:
            if type(None) in options:
                return None
            raise ConfigError(path, f"must not be null (expected {_type_name(tp)})")
        errors = []
        for opt in options:
            if opt is type(None):
                continue
            try:
                return bind(opt, value, path)
            except ConfigError as exc:
                errors.append(str(exc))
        if len(errors) == 1:
            raise ConfigError(path, errors[0].split(": ", 1)[1])
        raise ConfigError(path, f"{_json_kind(value)} {value!r} fits none of {_type_name(tp)}")
    if origin is Literal:
        if value not in get_args(tp):
            choices = ", ".join(repr(a) for a in get_args(tp))
            raise ConfigError(path, f"{value!r} is not one of {choices}")
        return value
    if origin in (list, tuple) or tp in (list, tuple):
        if not isinstance(value, list):
            raise ConfigError(path, f"expected an array, got {_json_kind(value)}")
        args = get_args(tp)
        if origin is tuple and args and args[-1] is not Ellipsis:
            if len(args) != len(value):
                raise ConfigError(path, f"expected {len(args)} items, got {len(value)}")
            return tuple(bind(a, v, f"{path}[{i}]") for i, (a, v) in enumerate(zip(args, value)))
        item = args[0] if args else Any
        items = [bind(item, v, f"{path}[{i}]") for i, v in enumerate(value)]
        return tuple(items) if origin is tuple else items
    if origin is dict or tp is dict:
        if not isinstance(value, dict):
            raise ConfigError(path, f"expected an object, got {_json_kind(value)}")
        args = get_args(tp)
        item = args[1] if args else Any
        return {k: bind(item, v, f"{path}.{k}") for k, v in value.items()}
    if dataclasses.is_dataclass(tp):
        return bind_dataclass(tp, value, path)
    if tp is bool:
        if not isinstance(value, bool):
            raise ConfigError(path, f"expected a boolean, got {_json_kind(value)} {value!r}")
        return value
    if tp is int:
        if isinstance(value, bool) or not isinstance(value, int):
            if isinstance(value, float) and value.is_integer():
                return int(value)
            raise ConfigError(path, f"expected an integer, got {_json_kind(value)} {value!r}")
        return value
    if tp is float:
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise ConfigError(path, f"expected a number, got {_json_kind(value)} {value!r}")
        return float(value)
    if tp is str:
        if not isinstance(value, str):
            raise ConfigError(path, f"expected a string, got {_json_kind(value)} {value!r}")
        return value
    raise ConfigError(path, f"unsupported declared type {_type_name(tp)}")


def bind_component(kind: str, value: Any, path: str) -> Component:
    if isinstance(value, str):  # shorthand: "resnet18" == {"type": "resnet18"}
        value = {"type": value}
    if not isinstance(value, dict):
        raise ConfigError(path, f"expected a {kind} plugin object with a 'type', got {_json_kind(value)}")
    if "type" not in value:
        raise ConfigError(path, f"missing key 'type' (which {kind} plugin to use)")
    name = value["type"]
    if not isinstance(name, str):
        raise ConfigError(f"{path}.type", f"expected a string, got {_json_kind(name)}")
    try:
        factory = load_plugin(kind, name)
    except RegistryError as exc:
        raise ConfigError(f"{path}.type", str(exc)) from exc
    config_cls = getattr(factory, "Config", None)
    if config_cls is None or not dataclasses.is_dataclass(config_cls):
        raise ConfigError(f"{path}.type", f"{kind} plugin {name!r} declares no Config dataclass")
    options = {k: v for k, v in value.items() if k != "type"}
    return Component(kind, name, bind_dataclass(config_cls, options, path), factory)


def bind_dataclass(cls: type, value: Any, path: str = "$") -> Any:
    if not isinstance(value, dict):
        raise ConfigError(path, f"expected an object for {cls.__name__}, got {_json_kind(value)}")
    hints = get_type_hints(cls)
    fields = {f.name: f for f in dataclasses.fields(cls) if f.init}
    unknown = sorted(set(value) - set(fields))
    if unknown:
        import difflib

        parts = []
        for key in unknown:
            close = difflib.get_close_matches(key, list(fields), n=1)
            parts.append(f"{key!r}" + (f" (did you mean {close[0]!r}?)" if close else ""))
        raise ConfigError(f"{path}.{unknown[0]}", f"unknown key(s) {', '.join(parts)} for "
                          f"{cls.__name__}; allowed: {', '.join(sorted(fields))}")
    kwargs = {}
    for name, f in fields.items():
        sub = f"{path}.{name}"
        kind = f.metadata.get("plugin")
        if name not in value:
            if f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING:
                raise ConfigError(sub, f"required key is missing ({_type_name(hints[name])})")
            if kind is None:
                continue
            # a plugin field's default is written as recipe JSON too: bind it like one
            raw = f.default_factory() if f.default is dataclasses.MISSING else f.default
        else:
            raw = value[name]
        if kind is not None:
            if raw is None and get_origin(hints[name]) in (Union, getattr(types, "UnionType", Union)):
                kwargs[name] = None
            elif isinstance(raw, list) and get_origin(hints[name]) is list:
                kwargs[name] = [bind_component(kind, v, f"{sub}[{i}]") for i, v in enumerate(raw)]
            elif isinstance(raw, dict) and get_origin(hints[name]) is dict:
                kwargs[name] = {k: bind_component(kind, v, f"{sub}.{k}") for k, v in raw.items()}
            else:
                kwargs[name] = bind_component(kind, raw, sub)
        else:
            kwargs[name] = bind(hints[name], raw, sub)
    try:
        obj = cls(**kwargs)
    except (TypeError, ValueError) as exc:
        raise ConfigError(path, str(exc)) from exc
    check = getattr(obj, "validate", None)
    if callable(check):
        try:
            check()
        except ValueError as exc:
            raise ConfigError(path, str(exc)) from exc
    return obj


def to_json(obj: Any) -> Any:
    """The resolved, fully defaulted recipe as plain JSON (saved with every run)."""
    if isinstance(obj, Component):
        return obj.to_json()
    if dataclasses.is_dataclass(obj) and not isinstance(obj, type):
        return {f.name: to_json(getattr(obj, f.name)) for f in dataclasses.fields(obj)}
    if isinstance(obj, (list, tuple)):
        return [to_json(v) for v in obj]
    if isinstance(obj, dict):
        return {k: to_json(v) for k, v in obj.items()}
    return obj


__all__ = ["Component", "ConfigError", "bind", "bind_dataclass", "bind_component", "plugin", "to_json"]
_ = typing  # keep typing imported for get_type_hints on string annotations
