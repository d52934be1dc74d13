"""`rig bench check`: open every device of the bench, print who answered, leave all safe."""

from __future__ import annotations

import argparse
import sys

from rig.bench import BenchError, open_bench
from rig.config import ConfigError, load_bench


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> None:
        print(f"rig bench: {message}", file=sys.stderr)
        sys.exit(2)


def main(argv: list[str]) -> int:
    parser = _Parser(prog="rig bench", description="Check the devices of a bench.")
    sub = parser.add_subparsers(dest="action", required=True)
    check = sub.add_parser("check", help="open every device and print its identity")
    check.add_argument("--bench", help="bench TOML (default: the emulated bench)")
    check.add_argument("--allow-expired-calibration", action="store_true")
    args = parser.parse_args(argv)
    try:
        config = load_bench(args.bench)
    except ConfigError as exc:
        print(f"rig bench: {exc}", file=sys.stderr)
        return 2
    failed: list[str] = []
    try:
        with open_bench(config, allow_expired_calibration=args.allow_expired_calibration) \
                as bench:
            print(f"bench: {config.bench.name} ({config.path})"
                  + (f", emulated at {bench.speed:g}x" if bench.emulated else ""))
            try:
                ident = bench.optical.identify()
                drn = bench.optical.read("C.1.0").value
                bench.optical.close()
                print(f"meter    ok  {ident.manufacturer} {ident.ident} "
                      f"(baud char {ident.baud_char}), meter number {drn}")
            except Exception as exc:
                failed.append("meter")
                print(f"meter    FAIL {exc}")
            if bench.has("keypad"):
                try:
                    print(f"keypad   ok  {bench.keypad.identify()}")
                except Exception as exc:
                    failed.append("keypad")
                    print(f"keypad   FAIL {exc}")
            for role in config.instruments:
                try:
                    inst = bench.instrument(role)
                    inst.safe_state()
                    due = config.instruments[role].calibration_due
                    print(f"{role:<8} ok  {inst.idn}"
                          + (f" (calibration due {due.isoformat()})" if due else ""))
                except Exception as exc:
                    failed.append(role)
                    print(f"{role:<8} FAIL {exc}")
    except (BenchError, ConfigError) as exc:
        print(f"rig bench: {exc}", file=sys.stderr)
        return 1
    if failed:
        print(f"rig bench: no answer from: {', '.join(failed)}", file=sys.stderr)
        return 1
    print("all devices answered; instruments left in their safe state")
    return 0
