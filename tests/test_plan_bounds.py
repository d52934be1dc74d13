"""Preconditions first, waits bounded: a meter that breaks a test's precondition ends that test
at once, naming the precondition, and never makes the plan wait past what the profile bounds.

`clear-credit-ignored` answers BENAR to the clear-credit token and keeps its credit. The
overflow test leaves the credit near its declared maximum (936 kWh), so a depletion test that
trusted the clear and timed its wait from the credit the meter reports would wait for 936 kWh
at 1 kW: 936 h of bench time, hours of real time at 200x. The depletion test must instead see
that the credit is not what it set, and fail at once.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from meterprofile import load_profile

ROOT = Path(__file__).resolve().parent.parent
SPEED = 200.0
KWH = 3.6e6


def depletion_bound_s() -> float:
    """The longest the depletion test may take in bench time on a compliant meter: the two
    tokens it types, then its declared credit (0.2 kWh) at 1 kW within the accuracy class,
    plus the relay's declared operate limit and a minute of margin."""
    p = load_profile()
    typing = 2 * 21 * (p.tokens.press_ms + p.tokens.gap_ms) / 1000.0
    depletion = 0.2 * KWH / 1000.0 * (1 + p.ratings.accuracy_class / 100.0)
    return typing + depletion + p.relay.operate_limit_s + 60.0


@pytest.mark.slow
def test_a_broken_precondition_ends_the_test_within_its_bound(tmp_path):
    cmd = [sys.executable, "-m", "rig", "run", "--reports", str(tmp_path), "--speed",
           f"{SPEED:g}", "--fault", "clear-credit-ignored", "--rig-progress=off",
           "-k", "test_overflow_refused or test_depletion_opens_relay"]
    # an unbounded plan would run for hours: give it four times the bound, then call it hung
    limit_s = 4 * depletion_bound_s() / SPEED + 120
    try:
        proc = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, timeout=limit_s)
    except subprocess.TimeoutExpired:
        pytest.fail(f"the plan did not end within {limit_s:.0f} s: a wait is not bounded")
    runs = [p for p in tmp_path.iterdir() if p.is_dir()]
    assert len(runs) == 1, proc.stdout[-2000:]
    lines = [json.loads(x) for x in (runs[0] / "results.jsonl").read_text().splitlines()]
    calls = {x["test"].split("::")[-1]: x for x in lines
             if x["kind"] == "test" and x["phase"] == "call"}
    assert set(calls) == {"test_overflow_refused", "test_depletion_opens_relay"}, calls
    depletion = calls["test_depletion_opens_relay"]
    assert depletion["outcome"] == "failed"
    assert "precondition" in depletion["reason"] and "credit" in depletion["reason"], (
        depletion["reason"])
    # bench time the test took (the emulated clock runs SPEED x the host's)
    assert depletion["duration"] * SPEED <= depletion_bound_s(), depletion["duration"]
