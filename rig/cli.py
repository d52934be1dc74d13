"""The `rig` command line: a thin dispatcher to one module per sub-command.

Each sub-command lives in `rig/commands/<name>.py` and exposes `main(argv) -> int`, so the
commands stay independent (importing `rig sts` never loads pyvisa, for instance).
"""

from __future__ import annotations

import importlib
import sys

COMMANDS: dict[str, tuple[str, str]] = {
    "sts": ("rig.commands.sts", "vend, decode and derive keys for STS tokens"),
    "emulate": ("rig.commands.emulate", "serve the emulated bench (meter, keypad, instruments)"),
    "bench": ("rig.commands.bench", "check that every device of a bench answers"),
    "meter": ("rig.commands.meter", "read the meter on the bench, or type a token into it"),
    "run": ("rig.commands.run", "run the conformance plans and write the report"),
}


def _usage() -> str:
    lines = ["usage: rig COMMAND [options]", "", "commands:"]
    lines += [f"  {name:<8} {help_}" for name, (_, help_) in COMMANDS.items()]
    lines += ["", "Run `rig COMMAND --help` for the options of one command."]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    """Entry point of the `rig` console script."""
    args = list(sys.argv[1:] if argv is None else argv)
    if not args or args[0] in {"-h", "--help"}:
        print(_usage())
        return 0 if args else 2
    if args[0] == "--version":
        from rig import __version__

        print(f"rig {__version__}")
        return 0
    name = args[0]
    if name not in COMMANDS:
        print(f"rig: unknown command {name!r} (expected one of: {', '.join(COMMANDS)})",
              file=sys.stderr)
        return 2
    module = importlib.import_module(COMMANDS[name][0])
    return int(module.main(args[1:]) or 0)


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
