"""Run progress (rig/plugin/progress.py): the estimate's arithmetic with known durations, the plain
lines of a run without a terminal, and the status line on a terminal (a pty, read back
through a terminal emulator, pyte)."""

from __future__ import annotations

import fcntl
import json
import os
import pty
import re
import select
import struct
import subprocess
import sys
import termios
import time
from pathlib import Path

import pyte
import pytest

from rig.plugin.progress import (
    RigProgress,
    StatusLine,
    estimate_left,
    held,
    hms,
    previous_durations,
)
from tests.plugin_support import run_plan

pytest_plugins = ["pytester"]

PLAN = """
import pytest

@pytest.mark.clause("6.1")
def test_a():
    pass

@pytest.mark.clause("6.2")
def test_b():
    pass

@pytest.mark.clause("6.3")
def test_c():
    pass
"""
#: a progress line, pytest's outcome letter after it (and, last, its progress percentage)
LINE = re.compile(r"^\[(\d)/3\] test_plan\.py::test_(\w) - run \d\d:\d\d:\d\d elapsed, "
                  r"(.*?left|no estimate before the first test ends) [.FEsxX](?:\s+\[\s*\d+%\])?$")


def write_run(reports: Path, name: str, durations: dict[str, float], age_s: float,
              tail: str = "") -> Path:
    """An earlier run's results.jsonl with these `test` lines, last written `age_s` ago."""
    path = reports / name / "results.jsonl"
    path.parent.mkdir(parents=True)
    lines = [json.dumps({"kind": "run_start", "time": "2026-01-01T00:00:00"})]
    lines += [json.dumps({"kind": "test", "test": test, "outcome": "passed",
                          "duration": duration}) for test, duration in durations.items()]
    path.write_text("\n".join(lines) + "\n" + tail)
    then = time.time() - age_s
    os.utime(path, (then, then))
    return path


# --- arithmetic ---------------------------------------------------------------------------


@pytest.mark.parametrize(("seconds", "text"), [
    (0, "00:00:00"), (59.6, "00:01:00"), (3723, "01:02:03"), (90061, "25:01:01"),
    (-5, "00:00:00"),
])
def test_hms(seconds, text):
    assert hms(seconds) == text


@pytest.mark.parametrize(("remaining", "done", "previous", "running_for", "left"), [
    # done a, b took 10 + 20 s where the earlier run took 5 + 10: this run is 2x slower,
    # so c (8 s before) -> 16, d (2) -> 4, e (never run) -> the mean done, 15: 35 s
    (["c", "d", "e"], {"a": 10, "b": 20}, {"a": 5, "b": 10, "c": 8, "d": 2}, 0.0, 35.0),
    # c is running, 6 s in: 10 s of it left
    (["c", "d", "e"], {"a": 10, "b": 20}, {"a": 5, "b": 10, "c": 8, "d": 2}, 6.0, 29.0),
    # c is running past its estimate: none of it counted
    (["c", "d", "e"], {"a": 10, "b": 20}, {"a": 5, "b": 10, "c": 8, "d": 2}, 20.0, 19.0),
    # before the first test: the earlier run's durations as they are
    (["a", "b", "c"], {}, {"a": 40, "b": 50, "c": 10}, 0.0, 100.0),
    # no earlier run: the mean of the tests done
    (["b", "c"], {"a": 30}, {}, 0.0, 60.0),
    (["b", "c"], {"a": 30, "x": 10}, {}, 5.0, 35.0),
    ([], {}, {}, 0.0, 0.0),
])
def test_estimate_left_known_durations(remaining, done, previous, running_for, left):
    assert estimate_left(remaining, done, previous, running_for) == pytest.approx(left)


def test_no_estimate_without_any_duration():
    assert estimate_left(["a", "b"], {}, {}) is None
    assert estimate_left(["a", "b"], {}, {"a": 4.0}) is None  # b has no figure at all


def test_previous_durations_newest_run_first(tmp_path):
    write_run(tmp_path, "old", {"p::a": 40.0, "p::b": 50.0}, age_s=100)
    write_run(tmp_path, "newer", {"p::a": 7.0}, age_s=10,
              tail='{"kind": "test", "test": "p::c", "durat')  # a run killed mid-line
    write_run(tmp_path, "this-run", {"p::a": 1.0}, age_s=-60)  # written after `before`
    assert previous_durations(tmp_path, before=time.time()) == {"p::a": 7.0, "p::b": 50.0}
    assert previous_durations(tmp_path / "none", before=time.time()) == {}


# --- a plan run without a terminal --------------------------------------------------------


def progress_lines(result) -> list[tuple[str, str, str]]:
    return [m.groups() for m in map(LINE.match, result.outlines) if m]


def test_plain_lines_with_an_earlier_run(pytester):
    pytester.makepyfile(test_plan=PLAN)
    write_run(pytester.path / "reports", "earlier",
              {"test_plan.py::test_a": 40.0, "test_plan.py::test_b": 50.0,
               "test_plan.py::test_c": 10.0}, age_s=3600)
    result = run_plan(pytester)
    result.assert_outcomes(passed=3)
    lines = progress_lines(result)
    assert [(n, t) for n, t, _ in lines] == [("1", "a"), ("2", "b"), ("3", "c")]
    assert lines[0][2] == "about 00:01:40 left"  # 40 + 50 + 10 s, the earlier run's
    assert all(re.fullmatch(r"about \d\d:\d\d:\d\d left", est) for _, _, est in lines)
    assert "\x1b" not in result.stdout.str()


def test_plain_lines_without_an_earlier_run(pytester):
    pytester.makepyfile(test_plan=PLAN)
    result = run_plan(pytester)
    lines = progress_lines(result)
    assert lines[0] == ("1", "a", "no estimate before the first test ends")
    assert [est.startswith("about ") for _, _, est in lines[1:]] == [True, True]


def test_one_line_per_test_in_a_ci_log(pytester):
    pytester.makepyfile(test_plan=PLAN)
    result = run_plan(pytester)
    out = result.outlines
    first = next(i for i, line in enumerate(out) if line.startswith("collected "))
    last = next(i for i, line in enumerate(out) if "STS Rig" in line or "passed in" in line)
    shown = [line for line in out[first + 1:last] if line.strip()]
    assert len(shown) == 3 and len(progress_lines(result)) == 3, out[first:last]


@pytest.mark.parametrize("off", [("-p", "no:rig-progress"), ("--rig-progress=off",)])
def test_switched_off(pytester, off):
    pytester.makepyfile(test_plan=PLAN)
    result = run_plan(pytester, *off)
    result.assert_outcomes(passed=3)
    assert progress_lines(result) == []


def test_silent_outside_a_plan_session(pytester):
    pytester.makepyfile(test_plain="def test_one():\n    pass\n")
    result = run_plan(pytester)
    result.assert_outcomes(passed=1)
    assert not any(line.startswith("[1/1]") for line in result.outlines)


# --- on a terminal ------------------------------------------------------------------------


def run_on_a_pty(cwd: Path, rows: int, cols: int, *args: str) -> tuple[int, bytes]:
    master, slave = pty.openpty()
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", rows, cols, 0, 0))
    env = {**os.environ, "TERM": "xterm", "COLUMNS": str(cols), "LINES": str(rows)}
    proc = subprocess.Popen([sys.executable, "-m", "pytest", "-p", "no:cacheprovider", *args],
                            cwd=cwd, stdin=slave, stdout=slave, stderr=slave, env=env)
    os.close(slave)
    out = b""
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        ready, _, _ = select.select([master], [], [], 0.2)
        if ready:
            try:
                data = os.read(master, 65536)
            except OSError:  # the child closed its side
                break
            if not data:
                break
            out += data
        elif proc.poll() is not None:
            break
    os.close(master)
    return proc.wait(timeout=30), out


def test_status_line_on_a_terminal_leaves_pytest_output_whole(tmp_path):
    (tmp_path / "test_plan.py").write_text(PLAN)
    rows, cols = 30, 100
    code, out = run_on_a_pty(tmp_path, rows, cols, "test_plan.py")
    text = out.decode("utf-8", "replace")
    assert code == 0, text
    # drawn on the bottom row, between a cursor save and restore
    assert f"\x1b7\x1b[{rows};1H[2/3] test_plan.py::test_b | test 00:00:0" in text
    screen = pyte.Screen(cols, rows)
    pyte.ByteStream(screen).feed(out)
    shown = [line.rstrip() for line in screen.display]
    assert any(re.fullmatch(r"test_plan\.py \.\.\. +\[100%\]", line) for line in shown), shown
    assert any("3 passed" in line for line in shown)
    assert not any("[3/3]" in line for line in shown)  # the status row was cleared at the end


def test_hold_keeps_the_status_line_still(pytester):
    import io

    config = pytester.parseconfigure()
    progress = config.pluginmanager.get_plugin("rig-progress")  # registered by rig.plugin
    assert isinstance(progress, RigProgress)
    progress.order, progress.current = {"p::a": 0}, "p::a"
    stream = io.StringIO()
    progress._bar = StatusLine(stream)
    progress._bar.rows = 24
    with held(config):
        progress._render()
    assert stream.getvalue() == ""
    progress._render()
    assert "[1/1] p::a | test 00:00:00 | run 00:00:0" in stream.getvalue()
    progress._bar = None
