"""Test tokens (class 1) and keypad short codes: relay test, display test, shown values."""

import pytest

import sts
from rig.record.plots import relay_edge_plot

TEST_TOKEN = "IEC 62055-41:2014 6.3.8 InitiateMeterTest/Display (class 1)"
SHORT_CODES = "SPLN D3.009-1:2010 keypad short codes"


def relay_test(dut, scope, profile, record, attach_plot, keys, title):
    """The relay test timed by the scope alone: from ENTER pressed (injector sync, CH2) to
    the supply gone at the load (CH1), less the sync pulse's measured width (the meter acts on
    ENTER's release; the host's timing of the press never enters the verdict)."""
    if not dut.relay_closed():
        pytest.skip("the relay is open (no credit): a relay test needs it closed")
    scope.arm_dropout(level=50.0, hold_s=0.05)
    result = dut.entry(keys, code=True)
    record("relay test started (answered)", int(result.accepted), nominal=1)
    scope.wait_triggered(timeout_s=10)
    delay = scope.delay(2, 1)
    record("response from ENTER pressed (incl. the key press) [instrument scope CH2->CH1]",
           delay, "s")
    held = scope.pulse_width(2)  # the ENTER sync pulse: how long the key was really down
    record("ENTER held [instrument scope CH2 pulse width]", held, "s")
    response = delay - held
    record("relay operate time after ENTER released [instrument scope CH2->CH1]", response,
           "s", 0.0, profile.relay.operate_limit_s)
    wave_t, wave_v = scope.waveform(1, points=600)
    attach_plot(relay_edge_plot(wave_t, wave_v, title=title, measured_s=response,
                                limit_s=profile.relay.operate_limit_s), title)
    reclosed = dut.wait_until(dut.relay_closed, profile.relay.test_duration_s + 10, 0.5)
    record("relay closes again after the test" + dut.via("relay_closed"), int(reclosed),
           nominal=1)


@pytest.fixture
def with_credit(dut, vendor):
    if dut.credit() < 5:
        assert dut.enter(vendor.credit("10")).accepted
    dut.wait_until(dut.relay_closed, 5, 0.2)


@pytest.mark.clause(SHORT_CODES + " 01 relay test", "declared: relay.operate_limit_s")
@pytest.mark.faults("late-relay", "marginal-relay")
def test_relay_test_code(dut, with_credit, scope, profile, record, attach_plot):
    relay_test(dut, scope, profile, record, attach_plot, "01#", "relay test (code 01)")


@pytest.mark.clause(TEST_TOKEN + " test 1: load switch", "declared: relay.operate_limit_s")
@pytest.mark.faults("late-relay", "marginal-relay")
def test_relay_test_token(dut, with_credit, scope, profile, record, attach_plot):
    token = sts.test_token(0x1)
    relay_test(dut, scope, profile, record, attach_plot, token.digits + "#",
               "relay test (class 1 token, control bit 0)")


@pytest.mark.clause(TEST_TOKEN + " test 2: display", SHORT_CODES + " 00/02 display test")
def test_display_test(dut, record):
    shown = dut.entry(sts.test_token(0x2).digits + "#", code=True)
    record("display test token" + dut.via("display_text"), shown.display,
           nominal=dut.shown("888888888"))
    record("code 02" + dut.via("display_text"), dut.code("02").display,
           nominal=dut.shown("888888888"))


@pytest.mark.clause(TEST_TOKEN + " register display", SHORT_CODES + " 04 KRN, 75 meter number")
def test_register_display(dut, bench_config, record):
    keys = bench_config.meter.keys
    record("code 75 meter number" + dut.via("display_text"), dut.code("75").display,
           nominal=dut.shown(bench_config.meter.pan[6:17]))
    record("code 77 supply group" + dut.via("display_text"), dut.code("77").display,
           nominal=dut.shown(keys.sgc))
    shown = dut.code("04").display
    krn = int(dut.fact("key_revision"))
    kt = int(dut.fact("key_type")) if dut.offers("key_type") else keys.kt
    record("code 04 key revision" + dut.via("key_revision"), shown,
           nominal=dut.shown(f"KRN {krn} KT {kt}"))


@pytest.mark.clause(SHORT_CODES + " 41/44/47 shown V, A, W",
                    "declared: accuracy.display_tolerance_pct")
@pytest.mark.faults("voltage-reads-high")
def test_shown_values_agree_with_instruments(dut, with_credit, load, dmm, profile, record):
    tol = profile.accuracy.display_tolerance_pct / 100.0
    load.draw_current(4.0)
    dut.wait(2.0)
    try:
        v_dmm, i_dmm = dmm.measure_voltage_ac(), dmm.measure_current_ac()
        p_load = load.measure_power()
        v_shown = float(dut.code("41").display.split()[0])
        i_shown = float(dut.code("44").display.split()[0])
        p_shown = float(dut.code("47").display.split()[0])
        registers = {name: dut.fact(name) for name in ("voltage", "current")
                     if dut.offers(name) and dut.facts.source_kind(name) == "register"}
    finally:
        load.on = False
    how = " [display code; instrument dmm/load]"
    record("voltage shown (code 41)" + how, v_shown, "V", v_dmm * (1 - tol), v_dmm * (1 + tol))
    record("current shown (code 44)" + how, i_shown, "A", i_dmm * (1 - tol), i_dmm * (1 + tol))
    record("power shown (code 47)" + how, p_shown, "W", p_load * (1 - tol) - 1,
           p_load * (1 + tol) + 1)
    for name, reference, unit in (("voltage", v_dmm, "V"), ("current", i_dmm, "A")):
        if name in registers:
            record(f"{name} register against the DMM" + dut.via(name), registers[name], unit,
                   reference * (1 - tol), reference * (1 + tol))

