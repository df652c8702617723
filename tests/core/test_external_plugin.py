"""The example third-party objective in docs/examples is found the way an installed
distribution is (dist-info + entry_points.txt on sys.path) and runs in a recipe."""
from __future__ import annotations

import json
import subprocess
import sys
import tomllib
from pathlib import Path

from cbf.cli import main
from cbf.pipeline import run_recipe
from cbf.testing import check_objective, tiny_recipe
from cbf.testing.distributions import fake_distribution

EXAMPLE = Path(__file__).resolve().parents[2] / "docs" / "examples" / "cbf-example-objective"


def _install_example(site: Path) -> None:
    meta = tomllib.loads((EXAMPLE / "pyproject.toml").read_text())
    eps = meta["project"]["entry-points"]  # exactly what the example declares
    fake_distribution(site, meta["project"]["name"], eps,
                      {"cbf_example_objective": EXAMPLE / "cbf_example_objective"})


def test_example_plugin_is_discovered_and_runs(tmp_path, monkeypatch, capsys):
    site = tmp_path / "site"
    _install_example(site)
    monkeypatch.syspath_prepend(str(site))
    assert main(["plugins", "--json", "--kind", "objectives"]) == 0
    rows = {r["name"]: r for r in json.loads(capsys.readouterr().out)["objectives"]}
    assert rows["report_length"]["package"] == "cbf-example-objective" and rows["report_length"]["error"] is None

    result = check_objective("report_length", {"weight": 1.0}, views=["s2s"])
    assert result.losses["s2s"] > 0

    recipe = tiny_recipe({"mlm": "mlm", "length": {"type": "report_length", "weight": 0.5}},
                         views={"s2s": 1.0})
    metrics = run_recipe(recipe, out_dir=tmp_path / "run", log=lambda *_: None)
    assert "length@s2s" in metrics["val"] and "mlm@s2s" in metrics["val"]


def test_example_plugin_own_test_passes_in_a_fresh_interpreter(tmp_path):
    """Its three-line contract test runs as a plugin author would run it."""
    site = tmp_path / "site"
    _install_example(site)
    env_path = f"{site}"
    code = ("import sys; sys.path.insert(0, %r); import pytest; "
            "sys.exit(pytest.main(['-q', '-p', 'no:cacheprovider', %r]))") % (env_path,
                                                                             str(EXAMPLE / "test_report_length.py"))
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "1 passed" in proc.stdout


def test_contract_kit_checks_heads_too():
    rrg = check_objective("rrg", {"mask_rate": 0.5}, kind="heads")
    assert rrg.losses["s2s"] > 0 and rrg.backbone_grad["s2s"] > 0
    rd = check_objective("rd", {"target": "chexpert"}, kind="heads")
    assert rd.encoder_grad["bi"] > 0
