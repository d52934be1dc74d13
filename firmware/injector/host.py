"""The injector firmware on a host, under CPython: fake pins, a pty for its USB port.

`python firmware/injector/host.py [--clock virtual|real] [--pin-log FILE]` runs the very
logic of injector.py that the Pico runs, with the pin layer swapped for FakeOutputs. It
prints the pty's path as its first stdout line and serves until SIGINT/SIGTERM; the
project's tests open that path with the rig's keypad driver, exactly as a bench opens
/dev/ttyACM0.

Clocks: `virtual` (the tests' default) advances only while a key is held or a gap is
waited, by exactly the time asked, so answers are known to the microsecond and a 12 s token
types in no time; `real` is the host's monotonic clock folded through MicroPython's
wrapping ticks arithmetic (the Pico's own behaviour), with real waits.
"""

from __future__ import annotations

import argparse
import os
import select
import signal
import sys
import threading
import time
import tty
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import injector

TICKS_PERIOD = 1 << 30  # MicroPython's ticks_us wraps at 2**30 on the RP2040


def ticks_diff(new: int, old: int) -> int:
    """MicroPython's time.ticks_diff: the signed distance on the wrapping ticks circle."""
    half = TICKS_PERIOD // 2
    return ((new - old + half) & (TICKS_PERIOD - 1)) - half


def host_ticks_us() -> int:
    """The host's monotonic clock as MicroPython ticks (microseconds modulo 2**30)."""
    return (time.monotonic_ns() // 1000) & (TICKS_PERIOD - 1)


class VirtualClock:
    """Time that passes only in wait_us, by exactly what is asked."""

    def __init__(self, start_us: int = 0) -> None:
        self.us = start_us

    def now_us(self) -> int:
        return self.us

    def wait_us(self, us: int) -> None:
        self.us += max(0, int(us))


class FakeOutputs:
    """The pin layer of a host run: keeps each edge (time us, output, on) and, when given a
    file, appends it as a line `<t_us> <output> <1|0>` (output: a key name or SYNC)."""

    def __init__(self, clock: object, log_path: str | None = None) -> None:
        self.clock = clock
        # every output off from power-up, as board.PicoOutputs constructs its pins
        self.state: dict[str, bool] = dict.fromkeys((*injector.KEYS, "SYNC"), False)
        self.edges: list[tuple[int, str, bool]] = []
        self._log = open(log_path, "a", encoding="ascii") if log_path else None  # noqa: SIM115

    def _edge(self, name: str, on: bool) -> None:
        if self.state.get(name) == on:
            return
        self.state[name] = on
        t = self.clock.now_us()
        self.edges.append((t, name, on))
        if self._log is not None:
            self._log.write(f"{t} {name} {int(on)}\n")
            self._log.flush()

    def set(self, key: str, on: bool) -> None:
        if key not in injector.KEYS:
            raise KeyError(f"no output for key {key!r}")
        self._edge(key, on)

    def set_sync(self, on: bool) -> None:
        self._edge("SYNC", on)


def open_pty() -> tuple[int, int, str]:
    """A raw pty (no echo, no line discipline): (master, slave, slave path)."""
    master, slave = os.openpty()
    tty.setraw(slave)
    return master, slave, os.ttyname(slave)


def serve(master: int, device: injector.Injector, stop: threading.Event) -> None:
    """The firmware's main loop, on the pty's master side."""
    reader = injector.LineReader()
    while not stop.is_set():
        ready, _, _ = select.select([master], [], [], 0.1)
        device.clock.now_us()
        if not ready:
            continue
        try:
            data = os.read(master, 4096)
        except OSError:
            continue
        reply = injector.serve_bytes(device, reader, data)
        if reply:
            os.write(master, reply)


def build(clock_kind: str, pin_log: str | None) -> injector.Injector:
    if clock_kind == "virtual":
        clock: object = VirtualClock()
    else:
        clock = injector.Clock(host_ticks_us, ticks_diff,
                               lambda us: time.sleep(us / 1e6))
    return injector.Injector(FakeOutputs(clock, pin_log), clock, serial="HOST0001")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="host.py", description=__doc__.splitlines()[0])
    parser.add_argument("--clock", choices=("virtual", "real"), default="virtual")
    parser.add_argument("--pin-log", help="append every output edge to this file")
    args = parser.parse_args(argv)
    stop = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: stop.set())
    device = build(args.clock, args.pin_log)
    master, slave, path = open_pty()
    print(path, flush=True)
    try:
        serve(master, device, stop)
    finally:
        device.release_all()
        os.close(master)
        os.close(slave)
    return 0


if __name__ == "__main__":
    sys.exit(main())
