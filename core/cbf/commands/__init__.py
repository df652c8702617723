"""One module per ``cbf`` subcommand: ``add_arguments(parser)`` and ``main(args) -> int``."""
