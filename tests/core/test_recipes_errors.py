"""Recipe errors are caught before anything is built, and name the JSON path or Jsonnet line."""
from __future__ import annotations

import json

import pytest

from cbf.cli import main
from cbf.config.binding import ConfigError
from cbf.config.recipe import RecipeError, load_recipe
from cbf.pipeline import validate_recipe
from cbf.testing import tiny_recipe


def _write(tmp_path, text, name="r.jsonnet"):
    path = tmp_path / name
    path.write_text(text)
    return path


def test_valid_tiny_recipe_resolves_with_defaults():
    resolved = validate_recipe(tiny_recipe({"mlm": {"type": "mlm"}}))
    assert resolved["objectives"]["mlm"]["mask_rate"] == 0.15
    assert resolved["trainer"]["weight_decay"] == 0.01
    assert resolved["views"] == {"type": "weighted_views", "ratios": {"s2s": 0.5, "bi": 0.25, "mmm": 0.25}}


def test_unknown_key_names_its_path_and_suggests():
    recipe = tiny_recipe({"mlm": {"type": "mlm", "mask_rte": 0.2}})
    with pytest.raises(ConfigError) as err:
        validate_recipe(recipe)
    assert err.value.path == "$.objectives.mlm.mask_rte"
    assert "did you mean 'mask_rate'" in str(err.value)


def test_unknown_top_level_and_trainer_keys():
    recipe = tiny_recipe({"mlm": "mlm"})
    recipe["trainer"]["max_step"] = 3
    with pytest.raises(ConfigError, match=r"\$\.trainer\.max_step"):
        validate_recipe(recipe)


@pytest.mark.parametrize("path,value,expect", [
    (("trainer", "batch_size"), "8", "expected an integer"),
    (("trainer", "precision"), "fp8", "is not one of"),
    (("model", "image_size"), True, "expected an integer"),
    (("data", "tokenizer", "min_count"), 2.5, "expected an integer"),
])
def test_wrong_types_name_their_path(path, value, expect):
    recipe = tiny_recipe({"mlm": "mlm"})
    node = recipe
    for key in path[:-1]:
        node = node[key]
    node[path[-1]] = value
    with pytest.raises(ConfigError) as err:
        validate_recipe(recipe)
    assert err.value.path == "$." + ".".join(path)
    assert expect in str(err.value)


def test_unknown_plugin_in_recipe_names_path_and_suggestion():
    recipe = tiny_recipe({"mlm": "mlm"})
    recipe["model"]["backbone"] = {"type": "resnet51"}
    with pytest.raises(ConfigError) as err:
        validate_recipe(recipe)
    assert err.value.path == "$.model.backbone.type"
    assert "resnet50" in str(err.value)


def test_validate_rule_in_config(tmp_path):
    recipe = tiny_recipe({"mlm": {"type": "mlm", "mask_rate": 0}})
    with pytest.raises(ConfigError, match=r"\$\.objectives\.mlm: mask_rate"):
        validate_recipe(recipe)


def test_bad_jsonnet_reports_file_and_line(tmp_path):
    path = _write(tmp_path, "{\n  name: 'x',\n  data: {,\n}\n")
    with pytest.raises(RecipeError) as err:
        load_recipe(path)
    assert str(path) in str(err.value)
    assert ":3:" in str(err.value)  # the line of the syntax error


def test_jsonnet_imports_extvars_and_overrides(tmp_path):
    lib = tmp_path / "lib"
    lib.mkdir()
    (lib / "base.libsonnet").write_text(json.dumps(tiny_recipe({"mlm": "mlm"})))
    path = _write(tmp_path, "local base = import 'lib/base.libsonnet';\n"
                            "base + { name: std.extVar('run_name') }\n")
    data = load_recipe(path, ["trainer.max_steps=7", "model.backbone.channels=8"], {"run_name": "abl"})
    assert data["name"] == "abl" and data["trainer"]["max_steps"] == 7
    assert validate_recipe(data)["model"]["backbone"]["channels"] == 8
    with pytest.raises(ConfigError, match=r"\$\.trainr"):
        load_recipe(path, ["trainr.max_steps=7"], {"run_name": "abl"})


def test_cli_validate_exit_codes(tmp_path, capsys):
    good = _write(tmp_path, json.dumps(tiny_recipe({"mlm": "mlm"})), "good.jsonnet")
    assert main(["validate", str(good)]) == 0
    bad = tiny_recipe({"mlm": "mlm"})
    bad["seed"] = "zero"
    bad_path = _write(tmp_path, json.dumps(bad), "bad.jsonnet")
    assert main(["validate", str(bad_path)]) == 1
    assert "$.seed: expected an integer" in capsys.readouterr().err


def test_overrides_are_late_bound_inside_jsonnet(tmp_path):
    """A recipe that derives its dataset from a hidden ``data.root`` reacts to ``-o data.root=``."""
    path = _write(tmp_path, "{ name: 'x', data: { root:: null, dataset: if self.root == null then "
                            "{ type: 'demo' } else { type: 'mimic_cxr', root: $.data.root } }, xs: [{ a: 1 }] }")
    assert load_recipe(path)["data"]["dataset"] == {"type": "demo"}
    data = load_recipe(path, ["data.root=/data/mimic", "xs.0.a=5"])
    assert data["data"]["dataset"] == {"type": "mimic_cxr", "root": "/data/mimic"}
    assert data["xs"] == [{"a": 5}]
