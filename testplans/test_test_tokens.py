"""Test tokens (class 1) and keypad short codes: relay test, display test, shown values."""

import pytest

import sts
from rig.plots import relay_edge_plot

TEST_TOKEN = "IEC 62055-41:2014 6.3.8 InitiateMeterTest/Display (class 1)"
SHORT_CODES = "SPLN D3.009-1:2010 keypad short codes"


def relay_test(dut, scope, profile, record, attach_plot, enter, title):
    if not dut.relay_closed():
        pytest.skip("the relay is open (no credit): a relay test needs it closed")
    scope.arm_dropout(level=50.0, hold_s=0.05)
    result = enter()
    record("outcome", result.outcome, nominal="ACCEPT")
    scope.wait_triggered(timeout_s=10)
    delay = scope.delay(2, 1)  # from ENTER pressed (CH2) to supply gone (CH1)
    record("response from ENTER pressed (incl. the key press)", delay, "s")
    try:  # the meter's own record of when it commanded the relay, where it has one
        response = scope.trigger_time() - dut.number("C.51.4")
        what = "relay operate time (command to supply gone)"
    except Exception:
        response = delay - profile.tokens.press_ms / 1000.0  # the meter acts on release
        what = "relay operate time after ENTER released"
    record(what, response, "s", 0.0, profile.relay.operate_limit_s)
    wave_t, wave_v = scope.waveform(1, points=600)
    attach_plot(relay_edge_plot(wave_t, wave_v, title=title, measured_s=response,
                                limit_s=profile.relay.operate_limit_s), title)
    reclosed = dut.wait_until(dut.relay_closed, profile.relay.test_duration_s + 10, 0.5)
    record("relay closes again after the test", int(reclosed), nominal=1)


@pytest.fixture
def with_credit(dut, vendor):
    if dut.credit() < 5:
        assert dut.enter(vendor.credit("10")).outcome == "ACCEPT"
    dut.wait_until(dut.relay_closed, 5, 0.2)


@pytest.mark.clause(SHORT_CODES + " 01 relay test", "declared: relay.operate_limit_s")
@pytest.mark.faults("late-relay")
def test_relay_test_code(dut, with_credit, scope, profile, record, attach_plot):
    relay_test(dut, scope, profile, record, attach_plot, lambda: dut.code("01"),
               "relay test (code 01)")


@pytest.mark.clause(TEST_TOKEN + " test 1: load switch", "declared: relay.operate_limit_s")
@pytest.mark.faults("late-relay")
def test_relay_test_token(dut, with_credit, scope, profile, record, attach_plot):
    token = sts.test_token(0x1)
    relay_test(dut, scope, profile, record, attach_plot, lambda: dut.enter(token),
               "relay test (class 1 token, control bit 0)")


@pytest.mark.clause(TEST_TOKEN + " test 2: display", SHORT_CODES + " 00/02 display test")
def test_display_test(dut, record):
    record("display test token", dut.enter(sts.test_token(0x2)).display, nominal="888888888")
    record("code 02", dut.code("02").display, nominal="888888888")


@pytest.mark.clause(TEST_TOKEN + " register display", SHORT_CODES + " 04 KRN, 75 meter number")
def test_register_display(dut, bench_config, record):
    keys = bench_config.meter.keys
    record("code 75 meter number", dut.code("75").display, nominal=bench_config.meter.pan[6:17])
    record("code 77 supply group", dut.code("77").display, nominal=keys.sgc)
    shown = dut.code("04").display
    record("code 04 key revision", shown, nominal=f"KRN {dut.register('C.53.0')} KT "
                                                  f"{dut.register('C.53.1')}")


@pytest.mark.clause(SHORT_CODES + " 41/44/47 shown V, A, W",
                    "declared: accuracy.display_tolerance_pct")
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
    finally:
        load.on = False
    record("voltage shown (code 41)", v_shown, "V", v_dmm * (1 - tol), v_dmm * (1 + tol))
    record("current shown (code 44)", i_shown, "A", i_dmm * (1 - tol), i_dmm * (1 + tol))
    record("power shown (code 47)", p_shown, "W", p_load * (1 - tol) - 1, p_load * (1 + tol) + 1)
