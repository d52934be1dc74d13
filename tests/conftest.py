"""Shared fixtures of the project's own tests.

`start_emulator` runs the emulated bench as a subprocess, exactly as a user does with
`rig emulate`, and hands back the JSON line it prints: tests then talk to it only through its
wires (pyserial on the ptys, pyvisa-py or sockets on the TCP ports).
"""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
DATA = Path(__file__).resolve().parent / "data"


class EmulatorProcess:
    """A running `python -m emulator` and the endpoints it announced."""

    def __init__(self, args: list[str], state_dir: Path) -> None:
        self.state = state_dir / "meter-state.json"
        cmd = [sys.executable, "-m", "emulator", "--state", str(self.state), *args]
        self.proc = subprocess.Popen(
            cmd, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
        )
        line = self.proc.stdout.readline() if self.proc.stdout else ""
        if not line:
            err = self.proc.stderr.read() if self.proc.stderr else ""
            raise RuntimeError(f"emulator did not start: {err.strip()}")
        self.info: dict = json.loads(line)

    @property
    def optical(self) -> str:
        return self.info["optical"]

    @property
    def keypad(self) -> str:
        return self.info["keypad"]

    @property
    def instruments(self) -> dict[str, str]:
        return self.info["instruments"]

    def bench_file(self, path: Path, name: str, *, profile: str | None = None,
                   dmm: bool = True) -> Path:
        """A real-bench-form bench file (`emulated = false`) on this emulator's ports: its
        meter's PAN, optical port and injector, and its DMM unless `dmm` is False."""
        text = (f'[bench]\nname = "{name}"\nspeed = {self.info["speed"]}\n'
                f'[meter]\npan = "600727471234567834"\noptical = "{self.optical}"\n'
                + (f'profile = "{profile}"\n' if profile else "")
                + f'[keypad]\nport = "{self.keypad}"\n'
                + (f'[instruments.dmm]\nresource = "{self.instruments["dmm"]}"\n'
                   if dmm else ""))
        path.write_text(text)
        return path

    def stop(self) -> int:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        return self.proc.returncode


@pytest.fixture
def start_emulator(tmp_path: Path) -> Iterator[Callable[..., EmulatorProcess]]:
    """Start emulators with the given `rig emulate` arguments; all are stopped at the end."""
    started: list[EmulatorProcess] = []

    def start(*args: str) -> EmulatorProcess:
        emu = EmulatorProcess(list(args), tmp_path)
        started.append(emu)
        return emu

    yield start
    for emu in started:
        emu.stop()
