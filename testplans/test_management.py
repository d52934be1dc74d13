"""Management tokens (class 2): power limit, clear credit, clear tamper, phase unbalance."""

import pytest

MPL = "IEC 62055-41:2014 6.3.9 SetMaximumPowerLimit"
REPLAY = "IEC 62055-41:2014 7.3.7 TID validation of class 2 tokens (UsedError)"


@pytest.mark.clause(MPL, "declared: overload.trip_delay_s, overload.reconnect_s")
def test_power_limit_trips_and_reconnects(dut, vendor, load, profile, record):
    if dut.credit() < 5:
        assert dut.enter(vendor.credit("20")).outcome == "ACCEPT"
    token = vendor.power_limit(1000)
    result = dut.enter(token)
    record("power limit token", result.outcome, nominal="ACCEPT")
    record("maximum power limit register", dut.number("C.57.0"), "W", nominal=1000.0)
    trips_before = dut.number("C.57.2")
    ov = profile.overload
    try:
        t_over = dut.now()
        load.draw_power(1500)
        opened = dut.wait_until(lambda: not dut.relay_closed(), ov.trip_delay_s * 2 + 10, 1.0)
        record("relay opened above the limit", int(opened), nominal=1)
        assert opened
        t_open = dut.number("C.51.4")
        record("trip delay", t_open - t_over, "s", ov.trip_delay_s,
               ov.trip_delay_s * 1.05 + dut.host_slack_s)
        record("relay reason", dut.register("C.51.3"), nominal="OVERLOAD")
        record("overload trips counted", dut.number("C.57.2") - trips_before, nominal=1.0)
        load.on = False
        closed = dut.wait_until(dut.relay_closed, ov.reconnect_s * 2 + 10, 2.0)
        record("relay reconnected", int(closed), nominal=1)
        if closed:
            record("reconnection after the trip", dut.number("C.51.5") - t_open, "s",
                   ov.reconnect_s * 0.95, ov.reconnect_s * 1.05)
    finally:
        load.on = False
    record("replayed power limit token", dut.enter(token).outcome, nominal="USED")
    assert dut.enter(vendor.power_limit(0)).outcome == "ACCEPT"


@pytest.mark.clause("IEC 62055-41:2014 6.3.13 ClearCredit", REPLAY)
@pytest.mark.faults("accept-used")
def test_clear_credit(dut, vendor, record):
    if dut.credit() < 1:
        assert dut.enter(vendor.credit("5")).outcome == "ACCEPT"
    token = vendor.clear_credit(0)
    record("clear credit token", dut.enter(token).outcome, nominal="ACCEPT")
    record("credit after clearing", float(dut.credit()), "kWh", 0.0, 0.0005)
    dut.wait(1.0)
    record("relay open with no credit", int(not dut.relay_closed()), nominal=1)
    record("replayed clear credit token", dut.enter(token).outcome, nominal="USED")
    assert dut.enter(vendor.credit("20")).outcome == "ACCEPT"


@pytest.mark.clause("IEC 62055-41:2014 6.3.15 ClearTamperCondition",
                    "SPLN D3.009-1:2010 tamper (PERIKSA)", REPLAY)
def test_tamper_and_clear_tamper(dut, vendor, load, profile, record):
    if dut.credit() < 1:
        assert dut.enter(vendor.credit("5")).outcome == "ACCEPT"
    dut.wait_until(dut.relay_closed, 5, 0.2)
    try:
        load.draw_current(1.0)
        load.leakage = profile.tamper.leak_threshold_a * 2  # live-to-earth leakage
        dut.wait(1.0)
    finally:
        load.leakage = 0
        load.on = False
    record("tamper detected (earth leakage)", dut.register("C.54.0"), nominal="1")
    refused = dut.enter(vendor.credit("1"))
    if profile.tamper.refuse_credit:
        record("credit token while tampered", refused.outcome, nominal="TAMPER")
        record("display", refused.display, nominal="PERIKSA")
    token = vendor.clear_tamper()
    record("clear tamper token", dut.enter(token).outcome, nominal="ACCEPT")
    record("tamper cleared", dut.register("C.54.0"), nominal="0")
    record("credit token after clearing", dut.enter(vendor.credit("1")).outcome,
           nominal="ACCEPT")
    record("replayed clear tamper token", dut.enter(token).outcome, nominal="USED")


@pytest.mark.clause("IEC 62055-41:2014 6.3.10 SetMaximumPhasePowerUnbalanceLimit",
                    "declared: tokens.phase_unbalance")
def test_phase_unbalance(dut, vendor, profile, record):
    token = vendor.phase_unbalance(500)
    result = dut.enter(token)
    if not profile.tokens.phase_unbalance:
        record("refused by a meter that declares no support", result.outcome,
               nominal="FUNCTION_ERROR")
        return
    record("phase unbalance token", result.outcome, nominal="ACCEPT")
    record("limit register", dut.number("C.57.1"), "W", nominal=500.0)
    record("replayed", dut.enter(token).outcome, nominal="USED")
