"""Make a folder look like an installed distribution (``*.dist-info`` with ``entry_points.txt``)
so that tests exercise the real entry-point discovery without ``pip install``."""
from __future__ import annotations

import shutil
import sys
from pathlib import Path


def fake_distribution(site: Path, name: str, entry_points: dict[str, dict[str, str]],
                      packages: dict[str, Path | str] | None = None, version: str = "0.0.1") -> Path:
    """Write ``<site>/<name>-<version>.dist-info`` declaring ``entry_points`` (group → name → value)
    and copy or write ``packages`` (import name → source folder, or module text) into ``site``.
    Put ``site`` on ``sys.path`` (e.g. ``monkeypatch.syspath_prepend``) to 'install' it."""
    site.mkdir(parents=True, exist_ok=True)
    dist = site / f"{name.replace('-', '_')}-{version}.dist-info"
    dist.mkdir(exist_ok=True)
    (dist / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n")
    lines = []
    for group, eps in entry_points.items():
        lines.append(f"[{group}]")
        lines.extend(f"{k} = {v}" for k, v in eps.items())
        lines.append("")
    (dist / "entry_points.txt").write_text("\n".join(lines))
    for import_name, source in (packages or {}).items():
        if isinstance(source, Path):
            shutil.copytree(source, site / import_name, dirs_exist_ok=True)
        else:
            (site / f"{import_name}.py").write_text(source)
    sys.modules.pop(next(iter(packages or {"": ""})), None)
    return dist
