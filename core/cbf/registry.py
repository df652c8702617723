"""Plugin registries: one entry-point group per kind, loaded lazily by name.

Why entry points and not import side effects: a recipe's ``type`` loads exactly one
entry point, so a broken plugin only hurts the recipes that name it, and third-party
distributions are found the same way as the first-party ones.
"""
from __future__ import annotations

import difflib
import os
from dataclasses import dataclass
from importlib import metadata
from typing import Any

KINDS: tuple[str, ...] = (
    "objectives",
    "heads",
    "datasets",
    "backbones",
    "annotators",
    "metrics",
    "samplers",
    "hooks",
)

#: Comma-separated plugin names (``name`` or ``kind:name``) that are never loaded.
DISABLE_ENV = "CBF_DISABLE_PLUGINS"


class RegistryError(Exception):
    """Base class for every plugin lookup problem."""


class UnknownPluginError(RegistryError, KeyError):
    def __str__(self) -> str:  # KeyError would repr() the message
        return self.args[0]


class DuplicatePluginError(RegistryError):
    pass


class PluginLoadError(RegistryError):
    pass


class BlockedPluginError(RegistryError):
    pass


@dataclass(frozen=True)
class PluginInfo:
    kind: str
    name: str
    value: str  # "module:attr"
    distribution: str

    @property
    def module(self) -> str:
        return self.value.split(":", 1)[0]


def _blocked() -> set[str]:
    raw = os.environ.get(DISABLE_ENV, "")
    return {item.strip() for item in raw.split(",") if item.strip()}


def _dist_name(ep: metadata.EntryPoint) -> str:
    dist = getattr(ep, "dist", None)
    return dist.metadata["Name"] if dist is not None else "?"


class Registry:
    """The plugins of one kind. Entry points are re-read on every query (cheap), so a
    distribution put on ``sys.path`` at run time is seen without restarting."""

    def __init__(self, kind: str) -> None:
        if kind not in KINDS:
            raise RegistryError(f"unknown plugin kind {kind!r}; kinds are: {', '.join(KINDS)}")
        self.kind = kind
        self.group = f"cbf.{kind}"
        self._loaded: dict[tuple[str, str], Any] = {}

    def _entry_points(self) -> dict[str, list[metadata.EntryPoint]]:
        found: dict[str, list[metadata.EntryPoint]] = {}
        seen: set[tuple[str, str, str]] = set()
        for ep in metadata.entry_points(group=self.group):
            key = (ep.name, ep.value, _dist_name(ep))
            if key in seen:  # the same distribution visible twice on sys.path
                continue
            seen.add(key)
            found.setdefault(ep.name, []).append(ep)
        return found

    def infos(self) -> list[PluginInfo]:
        out = []
        for name, eps in sorted(self._entry_points().items()):
            for ep in eps:
                out.append(PluginInfo(self.kind, name, ep.value, _dist_name(ep)))
        return out

    def names(self) -> list[str]:
        return sorted(self._entry_points())

    def _is_blocked(self, name: str) -> bool:
        blocked = _blocked()
        return name in blocked or f"{self.kind}:{name}" in blocked

    def resolve(self, name: str) -> metadata.EntryPoint:
        """The single entry point called ``name``, or an error that says what exists."""
        eps = self._entry_points()
        if self._is_blocked(name):
            raise BlockedPluginError(
                f"{self.kind} plugin {name!r} is blocked by the environment variable "
                f"{DISABLE_ENV}={os.environ.get(DISABLE_ENV)!r}"
            )
        if name not in eps:
            installed = sorted(eps)
            close = difflib.get_close_matches(name, installed, n=1, cutoff=0.5)
            hint = f" Did you mean {close[0]!r}?" if close else ""
            listing = ", ".join(installed) if installed else "(none installed)"
            raise UnknownPluginError(
                f"unknown {self.kind} plugin {name!r}.{hint} Installed {self.kind}: {listing}"
            )
        if len(eps[name]) > 1:
            where = "; ".join(f"{ep.value} (from {_dist_name(ep)})" for ep in eps[name])
            raise DuplicatePluginError(
                f"{self.kind} plugin name {name!r} is declared more than once: {where}. "
                f"Uninstall one, or block one with {DISABLE_ENV}."
            )
        return eps[name][0]

    def load(self, name: str) -> Any:
        ep = self.resolve(name)
        key = (ep.name, ep.value)
        if key not in self._loaded:
            try:
                self._loaded[key] = ep.load()
            except Exception as exc:  # any import-time failure of the plugin itself
                raise PluginLoadError(
                    f"{self.kind} plugin {name!r} ({ep.value}, from {_dist_name(ep)}) failed "
                    f"to load: {type(exc).__name__}: {exc}"
                ) from exc
        return self._loaded[key]

    def check_all(self) -> list[tuple[PluginInfo, str | None]]:
        """Try to load every plugin of this kind; report each error instead of raising."""
        results: list[tuple[PluginInfo, str | None]] = []
        for info in self.infos():
            if self._is_blocked(info.name):
                results.append((info, f"blocked by {DISABLE_ENV}"))
                continue
            try:
                self.load(info.name)
                results.append((info, None))
            except RegistryError as exc:
                results.append((info, str(exc)))
        return results


_REGISTRIES: dict[str, Registry] = {}


def registry(kind: str) -> Registry:
    if kind not in _REGISTRIES:
        _REGISTRIES[kind] = Registry(kind)
    return _REGISTRIES[kind]


def load_plugin(kind: str, name: str) -> Any:
    return registry(kind).load(name)
