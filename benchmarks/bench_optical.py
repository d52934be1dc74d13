"""Optical readout time at 300 and 9600 baud against the byte-time limit of the link.

Run by hand: `.venv/bin/python benchmarks/bench_optical.py`. Starts the emulated bench, does
full readouts at each rate, and compares the time with bytes x 10 bits / baud (7E1 framing:
start, 7 data, parity, stop) for every byte that crossed the link in either direction.
"""

from __future__ import annotations

import json
import subprocess
import sys
import time

from drivers.optical import OpticalPort


def count_bytes(port: OpticalPort) -> tuple[list[int], list[int]]:
    """Wrap the port's write/read to count the bytes crossing the link."""
    sent: list[int] = []
    received: list[int] = []
    write, read = port._ser.write, port._ser.read

    def counted_write(data: bytes) -> int:
        sent.append(len(data))
        return write(data)

    def counted_read(n: int = 1) -> bytes:
        data = read(n)
        received.append(len(data))
        return data

    port._ser.write = counted_write
    port._ser.read = counted_read
    return sent, received


def main() -> None:
    proc = subprocess.Popen([sys.executable, "-m", "emulator"], stdout=subprocess.PIPE,
                            text=True)
    info = json.loads(proc.stdout.readline())
    try:
        for baud_change, label in ((False, 300), (True, 9600)):
            port = OpticalPort(info["optical"], baud_change=baud_change, timeout=3.0)
            sent, received = count_bytes(port)
            start = time.monotonic()
            registers = port.readout()
            elapsed = time.monotonic() - start
            port.close()
            out_bytes, in_bytes = sum(sent), sum(received)
            ident = len(port.identification.ident) + 7 if port.identification else 0
            # the identification comes at 300 baud, the readout at `label`; what the rig
            # sends (11 bytes) crosses a pty at once, so only the meter's side is paced
            limit = ident * 10 / 300 + (in_bytes - ident) * 10 / label
            print(f"{label:>5} baud: {len(registers)} registers, {in_bytes} bytes in, "
                  f"{out_bytes} out; {elapsed:.3f} s against the link's byte-time limit "
                  f"{limit:.3f} s: the driver adds {elapsed - limit:.3f} s "
                  f"({limit / elapsed * 100:.1f} % of the time is the line itself)")
    finally:
        proc.terminate()
        proc.wait()


if __name__ == "__main__":
    main()
