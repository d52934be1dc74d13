"""The `rig` command line: a thin dispatcher to one module per sub-command.

Each sub-command lives in `rig/commands/` (see COMMANDS) and exposes `main(argv) -> int`, so the
commands stay independent (importing `rig sts` never loads pyvisa, for instance).

Every command reports a problem the same way, so a script or a tester can rely on it:

- one line on stderr, `rig <command>: <what was wrong>`, naming the option, the device or
  the step (a key is never repeated: a bad one is named by its option and the bad character);
  numbers in it are rounded to what means something (`0.366 s`, not `0.36575900000025285 s`);
- exit status 0: done, everything answered and passed;
- exit status 2: usage or bad input, found before anything is opened or started (an unknown
  option, a token of the wrong length, a key that is not hex, a bench file that does not load);
- exit status 1: the bench, a device or the thing checked said no (a device that is silent
  or refused for its calibration date, a meter that rejected a token, a CRC that does not
  match after decryption).
- exit status 3: the rig could not do its own part (a record or report it could not write:
  a full disk, a renderer that failed; an internal error);
- exit status 130: stopped by Ctrl-C or SIGTERM.
"""

from __future__ import annotations

import importlib
import sys

COMMANDS: dict[str, tuple[str, str]] = {
    "sts": ("rig.commands.sts_tools", "vend, decode and derive keys for STS tokens"),
    "emulate": ("rig.commands.emulate_bench",
                "serve the emulated bench (meter, keypad, instruments)"),
    "bench": ("rig.commands.bench_check", "check that every device of a bench answers"),
    "meter": ("rig.commands.meter_io", "read the meter on the bench, or type a token into it"),
    "run": ("rig.commands.run_plan", "run the conformance plans and write the report"),
    "report": ("rig.commands.report_render",
               "render report.html and report.pdf from a run's record"),
    "results": ("rig.commands.results_index",
                "list every run of a reports folder with its meter and verdict"),
    "display": ("rig.commands.display_read",
                "read what the meter's display shows now through the bench camera"),
}
USAGE_ERROR = 2
STOPPED = 130  # stopped by Ctrl-C, as every command exits when stopped
DEVICE_ERROR = 1


def _usage() -> str:
    lines = ["usage: rig COMMAND [options]", "       rig --version", "", "commands:"]
    lines += [f"  {name:<8} {help_}" for name, (_, help_) in COMMANDS.items()]
    lines += ["", "options:", "  -h, --help  show this help and exit",
              "  --version   print the version of STS Rig and exit",
              "", "Run `rig COMMAND --help` for the options of one command.",
              "Exit status: 0 done, 2 usage or bad input, 1 a device or bench problem",
              "(or a test failed), 3 the rig could not write its output, 130 stopped."]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    """Entry point of the `rig` console script."""
    args = list(sys.argv[1:] if argv is None else argv)
    if not args or args[0] in {"-h", "--help"}:
        print(_usage(), file=sys.stdout if args else sys.stderr)
        return 0 if args else USAGE_ERROR
    if args[0] == "--version":
        from rig import __version__

        print(f"rig {__version__}")
        return 0
    name = args[0]
    if name not in COMMANDS:
        print(f"rig: unknown command {name!r} (expected one of: {', '.join(COMMANDS)})",
              file=sys.stderr)
        return USAGE_ERROR
    try:
        module = importlib.import_module(COMMANDS[name][0])
        return int(module.main(args[1:]) or 0)
    except KeyboardInterrupt:  # a Ctrl-C a command does not handle itself: one line, no trace
        print(f"rig {name}: stopped by Ctrl-C", file=sys.stderr)
        return STOPPED
    except SystemExit as exc:  # argparse: --help (0) or a usage error already printed (2)
        if exc.code is None or isinstance(exc.code, int):
            return exc.code or 0
        print(f"rig {name}: {exc.code}", file=sys.stderr)
        return USAGE_ERROR


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
