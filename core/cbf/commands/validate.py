"""Check a recipe without running it: Jsonnet evaluates, every plugin named exists and loads,
every key is known and every value has the right type."""
from __future__ import annotations

import argparse
import json

from cbf.commands.run import parse_ext_vars
from cbf.config.recipe import load_recipe


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("recipe")
    p.add_argument("-o", "--override", action="append", default=[], metavar="KEY.PATH=VALUE")
    p.add_argument("--ext-var", action="append", default=[], metavar="NAME=VALUE")
    p.add_argument("--print", action="store_true", help="print the resolved recipe (all defaults filled in)")


def main(args: argparse.Namespace) -> int:
    from cbf.pipeline import validate_recipe

    data = load_recipe(args.recipe, args.override, parse_ext_vars(args.ext_var))
    resolved = validate_recipe(data)
    if args.print:
        print(json.dumps(resolved, indent=2))
    else:
        print(f"{args.recipe}: ok")
    return 0
