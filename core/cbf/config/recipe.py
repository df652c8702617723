"""Evaluate a Jsonnet recipe, apply ``-o key.path=value`` overrides, and report errors by file and line."""
from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from cbf.config.binding import ConfigError


class RecipeError(ValueError):
    """A recipe that cannot be evaluated (bad Jsonnet, missing file, bad override)."""


def _lib_dirs(path: Path) -> list[str]:
    """Import search path: the recipe's folder, its ``lib/`` and every parent's ``lib/`` up
    to the nearest ``recipes`` folder, so ablations can ``import 'lib/pretrain.libsonnet'``."""
    dirs = [str(path.parent)]
    for parent in [path.parent, *path.parent.parents]:
        if (parent / "lib").is_dir():
            dirs.append(str(parent))
        if parent.name == "recipes":
            break
    return dirs


def evaluate(path: str | Path, ext_vars: dict[str, str] | None = None) -> dict[str, Any]:
    """The recipe as plain JSON."""
    import _jsonnet

    path = Path(path)
    if not path.is_file():
        raise RecipeError(f"{path}: recipe file not found")
    try:
        text = _jsonnet.evaluate_file(str(path), ext_vars=ext_vars or {}, jpathdir=_lib_dirs(path))
    except RuntimeError as exc:  # jsonnet's messages carry file:line:column already
        raise RecipeError(f"{path}: Jsonnet error:\n{str(exc).strip()}") from exc
    data = json.loads(text)
    if not isinstance(data, dict):
        raise RecipeError(f"{path}: a recipe must evaluate to an object, got {type(data).__name__}")
    return data


def parse_override(text: str) -> tuple[list[str], Any]:
    if "=" not in text:
        raise RecipeError(f"override {text!r} must look like key.path=value")
    key, raw = text.split("=", 1)
    parts = [p for p in key.strip().split(".")]
    if not key.strip() or any(not p for p in parts):
        raise RecipeError(f"override {text!r}: empty key path")
    try:
        value = json.loads(raw)
    except json.JSONDecodeError:
        value = raw  # bare strings need no quotes: -o data.root=/data/mimic
    return parts, value


def apply_overrides(data: dict[str, Any], overrides: list[str]) -> dict[str, Any]:
    """Set each ``a.b.c=value``; a missing intermediate object is an error (typos stay visible),
    a missing leaf is created so that defaults can be overridden."""
    for text in overrides:
        parts, value = parse_override(text)
        node: Any = data
        for i, part in enumerate(parts[:-1]):
            where = "$." + ".".join(parts[: i + 1])
            if isinstance(node, list) and part.isdigit() and int(part) < len(node):
                node = node[int(part)]
            elif isinstance(node, dict) and part in node:
                node = node[part]
            else:
                raise ConfigError(where, f"override {text!r}: no such object in the recipe")
        leaf = parts[-1]
        if isinstance(node, list) and leaf.isdigit() and int(leaf) < len(node):
            node[int(leaf)] = value
        elif isinstance(node, dict):
            node[leaf] = value
        else:
            raise ConfigError("$." + ".".join(parts), f"override {text!r}: cannot set a key here")
    return data


def _mixin(parts: list[str], value: Any) -> str:
    """``a.b.c=v`` as a Jsonnet object mixin ``{a+: {b+: {c: v}}}``."""
    text = json.dumps(value)
    for i, part in enumerate(reversed(parts)):
        sep = ":" if i == 0 else "+:"
        text = "{" + json.dumps(part) + sep + " " + text + "}"
    return text


def load_recipe(path: str | Path, overrides: list[str] | None = None,
                ext_vars: dict[str, str] | None = None) -> dict[str, Any]:
    """Evaluate ``path`` with ``overrides`` applied.

    Overrides of object keys are applied *inside* Jsonnet, as mixins on the recipe object, so
    late-bound recipes react to them: a recipe whose dataset reads ``self.root`` switches to
    MIMIC-CXR when run with ``-o data.root=/data/mimic``. Paths through arrays (``a.0.b``) are
    set on the evaluated JSON instead. Either way, a path whose parent does not exist in the
    recipe is an error, so a typo never silently adds a key.
    """
    import _jsonnet

    base = evaluate(path, ext_vars)
    overrides = overrides or []
    apply_overrides(json.loads(json.dumps(base)), overrides)  # validates every path against the recipe
    mixins = [parse_override(o) for o in overrides]
    late = [(p, v) for p, v in mixins if not any(x.isdigit() for x in p)]
    rest = [o for o, (p, _) in zip(overrides, mixins) if any(x.isdigit() for x in p)]
    if late:
        path = Path(path).resolve()
        snippet = f"(import {json.dumps(str(path))})" + "".join(" + " + _mixin(p, v) for p, v in late)
        try:
            text = _jsonnet.evaluate_snippet(f"{path} with overrides", snippet, ext_vars=ext_vars or {},
                                             jpathdir=_lib_dirs(path))
        except RuntimeError as exc:
            raise RecipeError(f"{path}: Jsonnet error with overrides {overrides}:\n{str(exc).strip()}") from exc
        base = json.loads(text)
    return apply_overrides(base, rest)
