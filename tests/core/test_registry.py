"""Registry: unknown names, duplicates, broken plugins and blocking — each reported by name."""
from __future__ import annotations

import json

import pytest

from cbf.cli import main
from cbf.registry import (BlockedPluginError, DuplicatePluginError, PluginLoadError, UnknownPluginError,
                          registry)
from cbf.testing.distributions import fake_distribution

GOOD = '''
from dataclasses import dataclass
class Thing:
    @dataclass
    class Config:
        size: int = 1
    def __init__(self, config, *a, **k):
        self.config = config
'''


def test_unknown_name_lists_installed_and_suggests_closest():
    with pytest.raises(UnknownPluginError) as err:
        registry("objectives").load("mlmm")
    msg = str(err.value)
    assert "Did you mean 'mlm'?" in msg
    assert "mlm" in msg.split("Installed objectives:")[1]


def test_builtins_come_through_entry_points():
    assert {"mlm"} <= set(registry("objectives").names())
    assert "weighted_views" in registry("samplers").names()
    assert "tensorboard" in registry("hooks").names()


def test_duplicate_name_is_an_error(tmp_path, monkeypatch):
    fake_distribution(tmp_path, "dup-a", {"cbf.backbones": {"twin": "dup_a_mod:Thing"}}, {"dup_a_mod": GOOD})
    fake_distribution(tmp_path, "dup-b", {"cbf.backbones": {"twin": "dup_b_mod:Thing"}}, {"dup_b_mod": GOOD})
    monkeypatch.syspath_prepend(str(tmp_path))
    with pytest.raises(DuplicatePluginError) as err:
        registry("backbones").load("twin")
    assert "dup_a_mod:Thing" in str(err.value) and "dup_b_mod:Thing" in str(err.value)


def test_broken_plugin_reported_by_name_while_others_work(tmp_path, monkeypatch, capsys):
    fake_distribution(tmp_path, "broken-dist", {"cbf.metrics": {"broken_metric": "broken_mod:Metric"},
                                                "cbf.backbones": {"fine_bb": "fine_mod:Thing"}},
                      {"broken_mod": "import this_module_does_not_exist\n", "fine_mod": GOOD})
    monkeypatch.syspath_prepend(str(tmp_path))
    with pytest.raises(PluginLoadError) as err:
        registry("metrics").load("broken_metric")
    assert "broken_metric" in str(err.value) and "this_module_does_not_exist" in str(err.value)
    assert registry("backbones").load("fine_bb").__name__ == "Thing"
    assert main(["plugins", "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    rows = {r["name"]: r for r in report["metrics"]}
    assert "this_module_does_not_exist" in rows["broken_metric"]["error"]
    assert rows["broken_metric"]["package"] == "broken-dist"
    assert {r["name"]: r["error"] for r in report["objectives"]}["mlm"] is None


def test_environment_variable_blocks_named_plugins(monkeypatch):
    monkeypatch.setenv("CBF_DISABLE_PLUGINS", "objectives:mlm, something_else")
    with pytest.raises(BlockedPluginError, match="CBF_DISABLE_PLUGINS"):
        registry("objectives").load("mlm")
    monkeypatch.setenv("CBF_DISABLE_PLUGINS", "backbones:mlm")  # another kind: not blocked
    assert registry("objectives").load("mlm").__name__ == "MaskedLanguageModeling"
