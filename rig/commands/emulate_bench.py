"""`rig emulate`: serve the emulated bench (see emulator/emulated_bench.py).

It follows the convention of every `rig` command (rig/cli.py): a bad option or an unknown
fault is one line `rig emulate: <what was wrong>` on stderr and exit status 2.
`rig emulate --list-models` prints one line per instrument model the rig supports (a driver
in drivers/instruments/ and an emulated command set in emulator/scpi/): the role, the name a
bench file uses (`[instruments.ROLE] model = NAME`) and the maker's model designation.
`rig emulate --positions N` serves N positions on one shared AC source (emulator/positions.py),
announcing each position's endpoints in its first line; `--fault NAME@K` faults position K.
"""

from __future__ import annotations

import sys

from emulator.emulated_bench import main as _main


def model_lines() -> list[str]:
    """One line per supported model: role, bench-file name, maker's designation."""
    from drivers.instruments import all_models
    from emulator.scpi.registry import devices

    served = devices()
    rows = [(cls.ROLE, cls.MODEL, cls.DESIGNATION) for cls in all_models()
            if cls.MODEL in served.get(cls.ROLE, {})]
    role_w = max(len(r[0]) for r in rows)
    name_w = max(len(r[1]) for r in rows)
    return [f"{role:<{role_w}}  {name:<{name_w}}  {designation}"
            for role, name, designation in rows]


def main(argv: list[str]) -> int:
    """Serve until stopped (SIGTERM or Ctrl-C); the exit status of the emulator. A bench,
    profile or state file that is no regular file (a FIFO, /dev/zero) is bad input, exit 2,
    before anything is served (rig.commands.input_files)."""
    if "--list-models" in argv:
        print("\n".join(model_lines()))
        return 0
    from emulator.emulated_bench import build_parser
    from rig.commands.input_files import InputFileError, check_bench_inputs

    args, _ = build_parser().parse_known_args(argv)  # a usage error: said and exit 2 here
    try:
        check_bench_inputs(args.bench, profile=args.profile, state=args.state)
    except InputFileError as exc:
        print(f"rig emulate: {exc}", file=sys.stderr)
        return 2
    return _main(argv)
