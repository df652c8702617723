"""The ``cbf`` command. Each subcommand lives in ``cbf.commands.<name>`` and is imported only
when used, so a broken optional dependency of one command never takes the others down."""
from __future__ import annotations

import argparse
import importlib
import sys

#: subcommand -> (module, one-line help)
COMMANDS: dict[str, tuple[str, str]] = {
    "run": ("cbf.commands.run", "run a recipe (training, fine-tuning or a whole pipeline)"),
    "validate": ("cbf.commands.validate", "check a recipe without running it"),
    "plugins": ("cbf.commands.plugins", "list installed plugins by kind, with load errors"),
    "label": ("cbf.commands.label", "CheXpert-style labels for reports (CSV or JSONL)"),
    "generate": ("cbf.commands.generate", "generate reports for images with a trained RRG run"),
    "diagnose": ("cbf.commands.diagnose", "14 finding probabilities per image with a trained RD run"),
    "evaluate": ("cbf.commands.evaluate", "NLG and clinical-efficacy metrics of predictions"),
}


def build_parser() -> tuple[argparse.ArgumentParser, dict[str, object]]:
    parser = argparse.ArgumentParser(prog="cbf", description="Clinical-BERT framework")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    modules: dict[str, object] = {}
    for name, (module_name, help_text) in COMMANDS.items():
        try:
            module = importlib.import_module(module_name)
        except ModuleNotFoundError as exc:
            if exc.name == module_name:  # command not shipped in this version
                continue
            module = None
            err = exc
        except Exception as exc:  # noqa: BLE001 - report, keep the other commands alive
            module = None
            err = exc
        if module is None:
            p = sub.add_parser(name, help=f"(unavailable: {err})")
            p.set_defaults(_broken=f"cbf {name} is unavailable: {type(err).__name__}: {err}")
            continue
        p = sub.add_parser(name, help=help_text, description=(module.__doc__ or help_text).strip())
        module.add_arguments(p)
        modules[name] = module
    return parser, modules


def main(argv: list[str] | None = None) -> int:
    parser, modules = build_parser()
    args = parser.parse_args(argv)
    if not args.command:
        parser.print_help()
        return 2
    if getattr(args, "_broken", None):
        print(args._broken, file=sys.stderr)
        return 2
    from cbf.errors import UserError

    try:
        return int(modules[args.command].main(args) or 0)
    except UserError as exc:
        print(f"cbf {args.command}: error: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print(f"cbf {args.command}: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
