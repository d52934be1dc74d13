"""Throughput of the key and cipher half of `sts/` on one core.

    .venv/bin/python benchmarks/bench_keys.py [--count N]

Prints DKGA02 and DKGA04 decoder key derivations per second (`derive_decoder_key`, inputs
checked, a different meter each call so nothing is cached across calls) and block
encrypt+decrypt pairs per second for STA (EA07), MISTY1 (EA11) and DES (EA09) through
`sts.ciphers` (one decoder key, as when a vendor serves one meter). Best of 3 runs.
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable

from sts.ciphers import decrypt_block, encrypt_block
from sts.keys import derive_decoder_key
from sts.pan import MeterPAN, luhn_check_digit

VK02 = bytes.fromhex("abababababababab")  # the compliance-test vending keys (NOTES §11)
VK04 = bytes.fromhex("abababababababab949494949494949401234567")
KEYS = {
    "07": bytes.fromhex("e653341f9d5bf36f"),
    "09": bytes.fromhex("e653341f9d5bf36f"),
    "11": bytes.fromhex("f94b6ed353c3bfdb113e2d3a7ea3c41d"),
}
NAMES = {"07": "STA (EA07)", "09": "DES (EA09)", "11": "MISTY1 (EA11)"}


def rate(count: int, run: Callable[[int], object]) -> float:
    """Calls per second of `run(i)` for i in range(count), best of 3 runs."""
    best = float("inf")
    for _ in range(3):
        t0 = time.perf_counter()
        for i in range(count):
            run(i)
        best = min(best, time.perf_counter() - t0)
    return count / best


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=20000, help="operations per figure")
    count = parser.parse_args().count

    # a different meter each call: DRN = 10 digits + Luhn check digit
    pans = [MeterPAN.from_drn(f"{n:010d}{luhn_check_digit(f'{n:010d}')}").digits
            for n in range(count)]
    print(f"sts keys and ciphers, one core, {count} operations per figure (best of 3)")

    def dkga02(i: int) -> bytes:
        return derive_decoder_key(dkga="02", vending_key=VK02, pan=pans[i], sgc="123456",
                                  ti="01", krn=1, kt=2)

    def dkga04(ea: str) -> Callable[[int], bytes]:
        def run(i: int) -> bytes:
            return derive_decoder_key(dkga="04", vending_key=VK04, pan=pans[i], sgc="123457",
                                      ti="01", krn=1, kt=2, base_date=2014, ea=ea)
        return run

    print(f"  {'DKGA02 derivations':32s} {rate(count, dkga02):>10,.0f} /s")
    print(f"  {'DKGA04 derivations (EA07 key)':32s} {rate(count, dkga04('07')):>10,.0f} /s")
    print(f"  {'DKGA04 derivations (EA11 key)':32s} {rate(count, dkga04('11')):>10,.0f} /s")

    for ea, key in KEYS.items():
        def pair(i: int, ea: str = ea, key: bytes = key) -> int:
            block = (i * 0x9E3779B97F4A7C15) & 0xFFFFFFFFFFFFFFFF
            return decrypt_block(ea, key, encrypt_block(ea, key, block))
        label = f"{NAMES[ea]} encrypt+decrypt"
        print(f"  {label:32s} {rate(count, pair):>10,.0f} /s")


if __name__ == "__main__":
    main()
