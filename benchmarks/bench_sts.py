"""Throughput of the token engine on one core: vend and decode for EA07 and EA11, and
DKGA02 / DKGA04 key derivation.

    .venv/bin/python benchmarks/bench_sts.py [--count N] [--json]

Figures are tokens (or keys) per second in this one process. Vend = `Vendor.credit` to the
20 digits; decode = `sts.decode` (decrypt, CRC, fields); validate = `MeterValidator.validate`
(decode plus the meter's judgement); pair = one vend plus one decode of the same token.
"""

from __future__ import annotations

import argparse
import json
import time
from collections.abc import Callable
from datetime import datetime

import sts

KEY07 = bytes.fromhex("e653341f9d5bf36f")
KEY11 = bytes.fromhex("f94b6ed353c3bfdb113e2d3a7ea3c41d")
VK02 = bytes.fromhex("abababababababab")
VK04 = bytes.fromhex("abababababababab949494949494949401234567")
PAN = "600727000000000009"
START_TID = 5871715


def rate(count: int, run: Callable[[int], None]) -> float:
    """Calls per second of `run(i)` for i in range(count), best of 3 runs."""
    best = float("inf")
    for _ in range(3):
        t0 = time.perf_counter()
        for i in range(count):
            run(i)
        best = min(best, time.perf_counter() - t0)
    return count / best


def bench_ea(ea: str, key: bytes, count: int) -> dict[str, float]:
    vendor = sts.Vendor(key, ea)
    tokens = [vendor.credit(0, "12.5", tid=START_TID + i, rnd=5).digits for i in range(count)]
    register = sts.KeyRegister(key, ea, kt=2, krn=1, ti="01", sgc="123456")
    meter = sts.MeterValidator(register, mfr_code=0)

    def vend(i: int) -> None:
        vendor.credit(0, "12.5", tid=START_TID + i, rnd=5)

    def vend_int(i: int) -> None:
        vendor.credit(0, 12, tid=START_TID + i, rnd=5)

    def decode(i: int) -> None:
        sts.decode(tokens[i], key, ea)

    def validate(i: int) -> None:
        meter.validate(tokens[i])

    def pair(i: int) -> None:
        sts.decode(vendor.credit(0, "12.5", tid=START_TID + i, rnd=5).digits, key, ea)

    return {
        "vend": rate(count, vend),
        "vend_int_amount": rate(count, vend_int),
        "decode": rate(count, decode),
        "validate": rate(count, validate),
        "vend_and_decode_pairs": rate(count, pair),
    }


def bench_keys(count: int) -> dict[str, float]:
    def dkga02(i: int) -> None:
        sts.derive_decoder_key(dkga="02", vending_key=VK02, pan=PAN, sgc="123456", ti="01",
                               krn=1 + i % 9, kt=2)

    def dkga04(i: int) -> None:
        sts.derive_decoder_key(dkga="04", vending_key=VK04, pan=PAN, sgc="123457", ti="01",
                               krn=1 + i % 9, kt=2, base_date=1993, ea="07")

    return {"dkga02": rate(count, dkga02), "dkga04": rate(count, dkga04)}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=5000, help="operations per measurement")
    parser.add_argument("--json", action="store_true", help="print the figures as JSON")
    args = parser.parse_args()
    figures = {
        "EA07": bench_ea("07", KEY07, args.count),
        "EA11": bench_ea("11", KEY11, args.count),
        "keys": bench_keys(args.count),
        "when": datetime.now().isoformat(timespec="seconds"),
    }
    if args.json:
        print(json.dumps(figures, indent=2))
        return 0
    print(f"STS token engine, one core, {args.count} operations per figure (best of 3)")
    for ea in ("EA07", "EA11"):
        for name, value in figures[ea].items():
            print(f"  {ea} {name:<24} {value:>10,.0f} /s")
    for name, value in figures["keys"].items():
        print(f"  {name.upper()} key derivation        {value:>10,.0f} /s")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
