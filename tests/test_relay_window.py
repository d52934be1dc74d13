"""A relay that operates late is measured, not missed: the relay edge timer arms a window a few
times the limit wide (the trigger 8 divisions into the screen), so a late edge is a value over
the limit, and an edge later than the screen reaches, or none at all, is that lower bound,
never the scope's +9.9E+37 raised as an exception. Against each emulated scope model over a
real socket on a manual clock, and once through `rig run` with the late-relay fault."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from drivers.instruments import KeysightInfiniiVision, Scope
from drivers.instruments.scope_rigol import RigolMso5000
from emulator.scpi.instruments import ScopeDevice
from emulator.scpi.scope_keysight import InfiniiVisionDevice
from emulator.scpi.scope_rigol import RigolMso5000Device
from rig.bench.capabilities import BEFORE_DIVISIONS, RelayEdgeTimer, relay_window
from tests.emulator_support import PRESS, Bench, ServedInstruments

ROOT = Path(__file__).resolve().parent.parent
LIMIT = 0.100  # relay.operate_limit_s of pln_default
HALF_PERIOD = 0.010  # 50 Hz
MODELS = [(ScopeDevice, Scope), (InfiniiVisionDevice, KeysightInfiniiVision),
          (RigolMso5000Device, RigolMso5000)]


def served_bench(*faults: str) -> ServedInstruments:
    bench = Bench(faults=faults)
    assert bench.enter(bench.vendor.credit(0, "5"))[0] == "ACCEPT"
    bench.advance(1.0)
    assert bench.reg("C.51.0") == "1"  # relay closed
    return ServedInstruments(bench)


@pytest.fixture
def late():
    serve = served_bench("late-relay")
    yield serve
    serve.close()


@pytest.mark.parametrize(("device", "driver"), MODELS)
def test_a_late_relay_is_measured_over_its_limit(late, device, driver):
    scope, _dev = late(device, driver)
    timer = RelayEdgeTimer(scope)
    timer.arm_open(level=50.0, hold_s=0.05, window_s=relay_window(LIMIT, PRESS))
    # the screen: 8 of its 10 divisions before the trigger, twice the window (and the
    # dropout's timer) before the edge
    assert scope.before_trigger_s == pytest.approx(BEFORE_DIVISIONS * scope.scale_s)
    assert timer.reach_s == pytest.approx(2 * relay_window(LIMIT, PRESS) + 0.05)
    t_enter = late.bench.keys("01#")
    late.bench.advance(1.0)
    contact = late.bench.num("C.51.1")  # when the contact opened (bench time)
    timing = timer.timing(PRESS)
    assert not timing.later_than
    # the supply's last crossing of the level: up to half a period before the contact
    assert contact - t_enter - HALF_PERIOD <= timing.from_sync <= contact - t_enter + 1e-6
    assert timing.held == pytest.approx(PRESS, abs=1e-6)
    assert timing.after_release == pytest.approx(timing.from_sync - PRESS)
    assert 1.5 * LIMIT <= timing.after_release <= 4 * LIMIT  # 10 x (30 +/- 10) ms
    assert timing.shown == f"{timing.after_release:g}"
    times, volts = timer.waveform(points=600)  # the plot's trace holds the press and edge
    assert times[0] < -(contact - t_enter) and times[-1] > 0
    assert max(abs(v) for v in volts) > 300


@pytest.mark.parametrize(("device", "driver"), MODELS)
def test_no_edge_in_the_window_is_a_lower_bound_over_the_limit(late, device, driver):
    scope, _dev = late(device, driver)
    timer = RelayEdgeTimer(scope)
    timer.arm_open(level=50.0, hold_s=0.05, window_s=relay_window(LIMIT, PRESS))
    late.bench.advance(5.0)  # no command: the relay never opens, nothing triggers
    timing = timer.timing(PRESS)
    assert timing.later_than and timing.held is None
    assert timing.from_sync == pytest.approx(timer.reach_s)
    assert timing.after_release == pytest.approx(timer.reach_s - PRESS)
    assert timing.after_release > LIMIT
    assert timing.shown.startswith("> ")
    assert "lower bound" in timing.obtained("scope CH2->CH1")
    assert scope.errors() == []


@pytest.mark.parametrize(("device", "driver"), MODELS[1:])
def test_an_edge_later_than_the_screen_reaches_is_that_bound(late, device, driver):
    """A screen too short for this relay (the default 10 ms/div): the scope triggers on the
    edge but has no press on its screen; the bound it gives is below the true time."""
    scope, _dev = late(device, driver)
    timer = RelayEdgeTimer(scope)
    timer.arm_open(level=50.0, hold_s=0.05)
    t_enter = late.bench.keys("01#")
    late.bench.advance(1.0)
    assert timer.seen()
    timing = timer.timing(PRESS)
    assert timing.later_than
    assert timing.from_sync == pytest.approx(timer.reach_s)
    assert timing.from_sync < late.bench.num("C.51.1") - t_enter  # a true lower bound


def test_a_compliant_relay_is_measured_within_its_limit():
    serve = served_bench()
    try:
        scope, _dev = serve(RigolMso5000Device, RigolMso5000)
        timer = RelayEdgeTimer(scope)
        timer.arm_open(level=50.0, hold_s=0.05, window_s=relay_window(LIMIT, PRESS))
        t_enter = serve.bench.keys("01#")
        serve.bench.advance(1.0)
        timing = timer.timing(PRESS)
        assert not timing.later_than
        after = serve.bench.num("C.51.1") - t_enter - PRESS  # the contact, from the release
        assert after - HALF_PERIOD <= timing.after_release <= after + 1e-6
        assert 0.02 <= timing.after_release <= 0.04  # 30 ms +/- 10 ms
    finally:
        serve.close()


def test_rig_run_records_a_late_relay_as_its_measured_time(tmp_path):
    """The plan's relay test with the late-relay fault: a FAIL with the measured operate
    time over the limit and its plot, not an error without a number."""
    done = subprocess.run([sys.executable, "-m", "rig", "run", "--fault", "late-relay",
                           "--reports", str(tmp_path), "--progress", "off",
                           "-k", "test_relay_test_code", "-p", "no:hypothesispytest"],
                          cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert done.returncode == 1, (done.stdout + done.stderr)[-3000:]
    run = next(p for p in tmp_path.iterdir() if p.is_dir())
    lines = [json.loads(x) for x in (run / "results.jsonl").read_text().splitlines()]
    ours = [x for x in lines if x.get("test", "").endswith("::test_relay_test_code")]
    operate = [x for x in ours if x["kind"] == "measurement"
               and x["name"] == "relay operate time after ENTER released"]
    assert len(operate) == 1
    assert operate[0]["value"] > LIMIT and operate[0]["verdict"] == "FAIL"
    assert operate[0]["limits"] == "0 .. 0.1"
    assert operate[0]["bound"] == ""  # measured inside the window: a value, not a bound
    outcome = next(x for x in ours if x["kind"] == "test")
    assert outcome["outcome"] == "failed"
    assert "relay operate time after ENTER released" in outcome["reason"]
    assert any(x["kind"] == "plot" for x in ours)
