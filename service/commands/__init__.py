"""CLI command groups beyond the core screen/scan/evaluate, one module each.

Each module listed in `service.cli.COMMAND_MODULES` defines `register(subparsers) -> None`, adding its
sub-commands with `set_defaults(func=handler)`; a handler takes the parsed args and returns an exit code.
"""
