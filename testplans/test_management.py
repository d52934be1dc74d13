"""Management tokens (class 2): power limit, clear credit, clear tamper, phase unbalance."""

import pytest

from rig.meter.under_test import record_outcome

MPL = "IEC 62055-41:2014 6.3.9 SetMaximumPowerLimit"
REPLAY = "IEC 62055-41:2014 7.3.7 TID validation of class 2 tokens (UsedError)"


@pytest.mark.clause(MPL, "declared: overload.trip_delay_s, overload.reconnect_s")
@pytest.mark.faults("trip-below-limit", "short-trip-delay", "early-reconnect")
def test_power_limit_trips_and_reconnects(dut, vendor, load, scope, profile, record):
    """Trip delay and reconnection timed by the scope on the load voltage: the relay's
    opening (dropout) and its closing again (rising edge), from the moment the meter took a
    power limit below the power already drawn (its ENTER, on the injector's clock)."""
    if dut.credit() < 5:
        assert dut.enter(vendor.credit("20")).accepted
    token = vendor.power_limit(1000)
    record_outcome(record, "power limit token", dut.enter(token), "ACCEPT")
    if dut.offers("power_limit"):
        record("maximum power limit" + dut.via("power_limit"), dut.fact("power_limit"), "W",
               nominal=1000.0)
    trips_before = dut.fact("overload_trips") if dut.offers("overload_trips") else None
    ov = profile.overload
    press_s = profile.tokens.press_ms / 1000.0
    try:
        scope.arm_dropout(level=50.0, hold_s=0.05)
        load.draw_power(980)  # 98 % of the limit: no trip
        dut.wait(ov.trip_delay_s * 1.5)
        record("relay stays closed at 98 % of the limit [instrument scope CH1]",
               int(not scope.triggered()), nominal=1)
        assert dut.enter(vendor.power_limit(2000)).accepted
        load.draw_power(1500)  # below the 2000 W limit
        dut.wait(1.0)
        scope.arm_dropout(level=50.0, hold_s=0.05)
        lowered = dut.enter(vendor.power_limit(1000))  # now 1500 W is over the limit
        record_outcome(record, "power limit lowered under the load", lowered, "ACCEPT")
        t_over = lowered.t_enter + press_s  # the meter acts on ENTER's release
        opened = dut.wait_until(scope.triggered, ov.trip_delay_s * 2 + 10, 1.0)
        record("relay opened above the limit [instrument scope CH1]", int(opened), nominal=1)
        assert opened
        t_open = scope.trigger_time()
        record("trip delay from the limit's ENTER [instrument scope CH1, injector clock]",
               t_open - t_over, "s", ov.trip_delay_s,
               ov.trip_delay_s * 1.05 + profile.relay.operate_limit_s)
        if dut.offers("relay_reason"):
            record("relay reason" + dut.via("relay_reason"), dut.fact("relay_reason"),
                   nominal="OVERLOAD")
        load.on = False
        scope.arm_edge(level=50.0, slope="POS", channel=1)
        closed = dut.wait_until(scope.triggered, ov.reconnect_s * 2 + 10, 2.0)
        record("relay reconnected [instrument scope CH1]", int(closed), nominal=1)
        if closed:
            period = 1.0 / profile.ratings.frequency_hz
            record("reconnection after the trip [instrument scope CH1]",
                   scope.trigger_time() - t_open, "s", ov.reconnect_s * 0.95,
                   ov.reconnect_s * 1.05 + period)
    finally:
        load.on = False
    if trips_before is not None:
        record("overload trips counted" + dut.via("overload_trips"),
               dut.fact("overload_trips") - trips_before, nominal=1.0)
    record_outcome(record, "replayed power limit token", dut.enter(token), "USED")
    assert dut.enter(vendor.power_limit(0)).accepted


@pytest.mark.clause("IEC 62055-41:2014 6.3.13 ClearCredit", REPLAY)
@pytest.mark.faults("accept-used", "clear-credit-ignored")
def test_clear_credit(dut, vendor, record):
    if dut.credit() < 1:
        assert dut.enter(vendor.credit("5")).accepted
    token = vendor.clear_credit(0)
    record_outcome(record, "clear credit token", dut.enter(token), "ACCEPT")
    record("credit after clearing" + dut.via("credit"), float(dut.credit()), "kWh", 0.0,
           0.0005)
    dut.wait(1.0)
    record("relay open with no credit" + dut.via("relay_closed"), int(not dut.relay_closed()),
           nominal=1)
    record_outcome(record, "replayed clear credit token", dut.enter(token), "USED")
    assert dut.enter(vendor.credit("20")).accepted


@pytest.mark.clause("IEC 62055-41:2014 6.3.15 ClearTamperCondition",
                    "SPLN D3.009-1:2010 tamper (PERIKSA)", REPLAY)
@pytest.mark.faults("tamper-clear-credit")
def test_tamper_and_clear_tamper(dut, vendor, load, profile, record):
    if dut.credit() < 1:
        assert dut.enter(vendor.credit("5")).accepted
    dut.wait_until(dut.relay_closed, 5, 0.2)
    try:
        load.draw_current(1.0)
        load.leakage = profile.tamper.leak_threshold_a * 2  # live-to-earth leakage
        dut.wait(1.0)
    finally:
        load.leakage = 0
        load.on = False
    record("tamper detected (earth leakage)" + dut.via("tamper"), int(dut.fact("tamper")),
           nominal=1)
    refused = dut.enter(vendor.credit("1"))
    if profile.tamper.refuse_credit:
        record_outcome(record, "credit token while tampered", refused, "TAMPER")
        record("display" + dut.via("display_text"), refused.display,
               nominal=dut.shown("PERIKSA"))
    token = vendor.clear_tamper()
    credit = float(dut.credit())
    record_outcome(record, "clear tamper token", dut.enter(token), "ACCEPT")
    record("tamper cleared" + dut.via("tamper"), int(dut.fact("tamper")), nominal=0)
    record("credit kept through the clear tamper token" + dut.via("credit"),
           float(dut.credit()), "kWh", credit - 0.0005, credit + 0.0005)
    record_outcome(record, "credit token after clearing", dut.enter(vendor.credit("1")),
                   "ACCEPT")
    record_outcome(record, "replayed clear tamper token", dut.enter(token), "USED")


@pytest.mark.clause("IEC 62055-41:2014 6.3.10 SetMaximumPhasePowerUnbalanceLimit",
                    "declared: tokens.phase_unbalance")
def test_phase_unbalance(dut, vendor, profile, record):
    token = vendor.phase_unbalance(500)
    result = dut.enter(token)
    if not profile.tokens.phase_unbalance:
        record_outcome(record, "refused by a meter that declares no support", result,
                       "FUNCTION_ERROR")
        return
    record_outcome(record, "phase unbalance token", result, "ACCEPT")
    record("limit" + dut.via("unbalance_limit"), dut.fact("unbalance_limit"), "W",
           nominal=500.0)
    record_outcome(record, "replayed", dut.enter(token), "USED")
