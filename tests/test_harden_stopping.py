"""Ctrl-C or SIGTERM stops every `rig` command that drives the bench the way it stops `rig
run` (README: exit 130): one line `rig <command>: stopped by ...`, no KeyboardInterrupt
traceback, no death by the signal.

The meter is the far end of a real pty that never answers: the command is stopped while its
driver waits for the meter's sign-on answer, the moment the test reads the sign-on request.
"""

from __future__ import annotations

import os
import select
import signal
import subprocess
import sys
import time
import tty
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


def _default_sigint() -> None:
    signal.signal(signal.SIGINT, signal.SIG_DFL)  # a shell's background job ignores it


def wait_for_sign_on(master: int, wait_s: float = 60.0) -> bytes:
    seen = b""
    deadline = time.monotonic() + wait_s
    while b"/?!" not in seen:
        left = deadline - time.monotonic()
        assert left > 0, f"no sign-on request on the meter's port: {seen!r}"
        if select.select([master], [], [], min(left, 0.5))[0]:
            seen += os.read(master, 1024)
    return seen


@pytest.mark.parametrize(("sig", "how"), [(signal.SIGINT, "Ctrl-C (SIGINT)"),
                                          (signal.SIGTERM, "SIGTERM")])
@pytest.mark.parametrize("command", ["bench", "meter"])
def test_a_command_stopped_while_it_waits_on_the_meter_says_so_and_exits_130(
        tmp_path, command, sig, how):
    master, slave = os.openpty()
    tty.setraw(slave)
    port = os.ttyname(slave)
    try:
        bench = tmp_path / "bench.toml"
        bench.write_text(f'[meter]\npan = "600727471234567834"\noptical = "{port}"\n')
        argv = (["bench", "check", "--bench", str(bench)] if command == "bench"
                else ["meter", "readout", "--port", port])
        proc = subprocess.Popen([sys.executable, "-m", "rig", *argv], cwd=ROOT,
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                                preexec_fn=_default_sigint)
        try:
            wait_for_sign_on(master)
            proc.send_signal(sig)
            out, err = proc.communicate(timeout=60)
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
    finally:
        os.close(master)
        os.close(slave)
    assert proc.returncode == 130, (proc.returncode, err[-2000:])
    assert err.splitlines() == [f"rig {command}: stopped by {how}"], err[-2000:]
    assert "Traceback" not in out + err
