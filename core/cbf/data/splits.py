"""Seeded, group-aware train/val/test splits shared by the dataset plugins.

A split must not depend on the order in which a table lists its rows, and images of one
patient must never land in two splits (a patient-level leak inflates every metric). So we
split *groups* (patients, studies): the sorted unique groups are shuffled with
``random.Random(seed)`` and cut at the cumulative ratios; every key follows its group.
"""
from __future__ import annotations

import random
from typing import Callable, Hashable, Iterable, Mapping, Sequence, TypeVar

K = TypeVar("K", bound=Hashable)

SPLITS: tuple[str, str, str] = ("train", "val", "test")


def check_ratios(ratios: Sequence[float], names: Sequence[str] = SPLITS) -> None:
    """Raise ValueError unless ``ratios`` has one non-negative number per name, summing > 0."""
    if len(ratios) != len(names):
        raise ValueError(f"split ratios need {len(names)} values ({', '.join(names)}), got {list(ratios)}")
    if any(r < 0 for r in ratios) or sum(ratios) <= 0:
        raise ValueError(f"split ratios must be non-negative with a positive sum, got {list(ratios)}")


def seeded_split(keys: Iterable[K], ratios: Sequence[float] = (0.7, 0.1, 0.2), seed: int = 0,
                 names: Sequence[str] = SPLITS,
                 group: Callable[[K], Hashable] | Mapping[K, Hashable] | None = None) -> dict[K, str]:
    """Assign every key a split name; keys of one group (``group(key)``) share a split.

    Ratios count groups, not keys (7:1:2 of the patients). The cut points are rounded
    cumulative ratios, so the counts sum exactly to the number of groups.
    """
    check_ratios(ratios, names)
    keys = list(keys)
    if group is None:
        group_of: Callable[[K], Hashable] = lambda k: k  # noqa: E731
    elif isinstance(group, Mapping):
        group_of = group.__getitem__
    else:
        group_of = group
    key_groups = [group_of(k) for k in keys]
    groups = sorted(set(key_groups), key=lambda g: (type(g).__name__, str(g)))
    random.Random(seed).shuffle(groups)
    total, n = float(sum(ratios)), len(groups)
    bounds, acc = [], 0.0
    for r in ratios:
        acc += r
        bounds.append(round(n * acc / total))
    assigned: dict[Hashable, str] = {}
    start = 0
    for name, end in zip(names, bounds):
        for g in groups[start:end]:
            assigned[g] = name
        start = end
    return {k: assigned[g] for k, g in zip(keys, key_groups)}


__all__ = ["SPLITS", "check_ratios", "seeded_split"]
