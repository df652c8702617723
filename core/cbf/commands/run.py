"""Run a recipe: bind and validate it, build data, model and objectives, train, and leave a
run folder (resolved config, vocabulary, checkpoints, TensorBoard events, metrics.json)."""
from __future__ import annotations

import argparse
import json
import sys

from cbf.config.recipe import load_recipe


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("recipe", help="a .jsonnet (or .json) recipe")
    p.add_argument("-o", "--override", action="append", default=[], metavar="KEY.PATH=VALUE",
                   help="override a recipe value after evaluation (JSON value, or a bare string)")
    p.add_argument("--ext-var", action="append", default=[], metavar="NAME=VALUE",
                   help="a Jsonnet std.extVar value")
    p.add_argument("--out", help="run folder (default: the recipe's out_dir, else runs/<name>)")
    p.add_argument("--resume", action="store_true", help="continue from the run folder's last checkpoint")


def parse_ext_vars(items: list[str]) -> dict[str, str]:
    from cbf.config.recipe import RecipeError

    out = {}
    for item in items:
        if "=" not in item:
            raise RecipeError(f"--ext-var {item!r} must look like NAME=VALUE")
        k, v = item.split("=", 1)
        out[k] = v
    return out


def log(message: str) -> None:
    print(f"[cbf] {message}", file=sys.stderr, flush=True)


def main(args: argparse.Namespace) -> int:
    from cbf.pipeline import run_recipe

    data = load_recipe(args.recipe, args.override, parse_ext_vars(args.ext_var))
    metrics = run_recipe(data, out_dir=args.out, resume=args.resume, log=log)
    print(json.dumps(metrics, indent=2))
    return 0

