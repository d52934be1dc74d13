"""How fast the emulated bench's clock can run, and what one emulated bench costs.

Run by hand: `.venv/bin/python benchmarks/bench_emulator.py`. For each speed, a one-hour
depletion (1 kWh of credit under a 1 kW load) runs until the relay opens; the scope's
dropout trigger time is compared with the contact change the meter records (C.51.1) and the
depletion time with the hour it should take. Then the memory (RSS) and CPU time of one
emulated bench, idle and during optical readouts.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time

import sts
from drivers.instruments import AcLoad, Scope
from drivers.keypad import KeypadInjector
from drivers.optical import OpticalPort
from emulator.setup import MeterSetup

TICK = os.sysconf("SC_CLK_TCK")


def start(speed: float) -> tuple[subprocess.Popen, dict]:
    proc = subprocess.Popen([sys.executable, "-m", "emulator", "--speed", f"{speed:g}"],
                            stdout=subprocess.PIPE, text=True)
    return proc, json.loads(proc.stdout.readline())


def rss_mb(pid: int) -> float:
    with open(f"/proc/{pid}/status") as fh:
        for line in fh:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return 0.0


def cpu_s(pid: int) -> float:
    with open(f"/proc/{pid}/stat") as fh:
        fields = fh.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICK


def depletion(speed: float, vendor: sts.Vendor) -> str:
    proc, info = start(speed)
    try:
        with OpticalPort(info["optical"]) as port, KeypadInjector(info["keypad"]) as keypad, \
                AcLoad(info["instruments"]["load"]) as load, \
                Scope(info["instruments"]["scope"]) as scope:
            keypad.type_token(vendor.credit(0, "1.0").digits, 1, 1)
            deadline = time.monotonic() + 10
            while port.read("C.50.0").value != "1.000":
                if time.monotonic() > deadline:  # keys further apart than the entry timeout
                    return (f"{speed:>9g}x: the token could not be typed (the 20 s entry "
                            "timeout passes between two key presses at this speed)")
            scope.arm_dropout(level=50, hold_s=0.02)
            t0 = float(port.read("C.60.0").value)
            load.draw_power(1000.0)
            t1 = float(port.read("C.60.0").value)
            started = time.monotonic()
            while port.read("C.51.0").value == "1":
                time.sleep(0.001)
                if time.monotonic() - started > 3600 / speed + 30:
                    return f"{speed:>9g}x: the relay never opened"
            scope.wait_triggered(5)
            # no scope has the trigger's time on the bench clock: the edge is seen on the
            # screen, the last sample beyond the level before the dead line
            times, volts = scope.waveform(1, points=1000)
            live = [t for t, v in zip(times, volts, strict=True) if abs(v) > 50.0]
            contact = float(port.read("C.51.1").value)
            command = float(port.read("C.51.4").value)
            hour = command - (t0 + t1) / 2
            edge = max(live) if live else float("nan")
            return (f"{speed:>9g}x: depletion {hour:8.2f} s bench (expected 3600 +/- "
                    f"{(t1 - t0) / 2:.2f} of host timing), relay operate "
                    f"{(contact - command) * 1000:6.2f} ms, last live sample "
                    f"{edge * 1000:+7.3f} ms from the dropout trigger, "
                    f"{'within' if abs(edge) <= 0.001 else 'OUTSIDE'} 1 ms")
    finally:
        proc.terminate()
        proc.wait()


def footprint() -> None:
    proc, info = start(1.0)
    try:
        time.sleep(2)
        c0 = cpu_s(proc.pid)
        time.sleep(10)
        idle = (cpu_s(proc.pid) - c0) / 10 * 100
        print(f"one emulated bench: RSS {rss_mb(proc.pid):.1f} MB after start, "
              f"idle CPU {idle:.2f} %")
        c0, w0 = cpu_s(proc.pid), time.monotonic()
        with OpticalPort(info["optical"]) as port:
            for _ in range(3):
                port.readout()
        busy = (cpu_s(proc.pid) - c0) / (time.monotonic() - w0) * 100
        print(f"during 3 readouts at 9600 baud: CPU {busy:.1f} %, RSS {rss_mb(proc.pid):.1f} MB")
    finally:
        proc.terminate()
        proc.wait()


def main() -> None:
    setup = MeterSetup.default()
    vendor = sts.Vendor(setup.decoder_key, ea=setup.ea, base_date=setup.base_date)
    for speed in (1000, 10_000, 100_000, 1_000_000):
        print(depletion(speed, vendor), flush=True)
    footprint()


if __name__ == "__main__":
    main()
