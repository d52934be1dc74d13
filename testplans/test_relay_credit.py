"""Relay and credit: depletion under load, the opening time, reconnection, low-credit alarm."""

from decimal import Decimal

import pytest

from rig.plots import depletion_plot, relay_edge_plot

DEPLETION = "IEC 62055-31:2022 supply control switch: interrupt when credit is exhausted"
RECONNECT = "SPLN D3.009-1:2010 reconnection after an accepted credit token"


def set_credit(dut, vendor, kwh: str) -> None:
    assert dut.enter(vendor.clear_credit(0)).outcome == "ACCEPT"
    assert dut.enter(vendor.credit(kwh)).outcome == "ACCEPT"


@pytest.mark.clause(DEPLETION, "declared: relay.operate_limit_s, relay.disconnect_credit_kwh")
@pytest.mark.faults("late-relay")
def test_depletion_opens_relay(dut, vendor, load, scope, profile, record, attach_plot):
    credit_kwh, watts = Decimal("0.2"), 1000.0
    set_credit(dut, vendor, str(credit_kwh))
    record("relay closed with credit", int(dut.relay_closed()), nominal=1)
    start_credit = float(dut.credit())
    t_start = dut.now()
    load.draw_power(watts)
    t_start = (t_start + dut.now()) / 2
    scope.arm_dropout(level=50.0, hold_s=0.05)
    expected = start_credit * 3.6e6 / watts
    times, credits, powers = [], [], []

    def sample() -> bool:
        times.append(dut.now() - t_start)
        credits.append(float(dut.credit()))
        powers.append(dut.number("1.7.0") * 1000)
        return not dut.relay_closed()

    opened = dut.wait_until(sample, expected * 1.2 + 60, poll_bench_s=expected / 8)
    load.on = False
    record("relay opened when credit ran out", int(opened), nominal=1)
    assert opened
    scope.wait_triggered(timeout_s=5)
    t_edge = scope.trigger_time()
    t_command = dut.number("C.51.4")
    operate = t_edge - t_command
    record("relay operate time (command to supply gone)", operate, "s", 0.0,
           profile.relay.operate_limit_s)
    record("credit exhausted after (from credit and power)", t_command - t_start, "s",
           expected * 0.99 - dut.host_slack_s, expected * 1.01 + dut.host_slack_s)
    record("remaining credit at disconnect", float(dut.credit()), "kWh", 0.0,
           profile.relay.disconnect_credit_kwh + float(profile.display.credit_resolution_kwh))
    wave_t, wave_v = scope.waveform(1, points=600)
    attach_plot(relay_edge_plot(wave_t, wave_v, title="load voltage at disconnection",
                                measured_s=operate, limit_s=profile.relay.operate_limit_s),
                "relay edge at credit exhaustion")
    attach_plot(depletion_plot(times, credits, powers, relay_open_at=t_command - t_start),
                "credit and power during depletion")


@pytest.mark.clause(RECONNECT, "declared: relay.reconnect_limit_s")
@pytest.mark.faults("no-reconnect")
def test_relay_closes_after_credit(dut, vendor, load, profile, record):
    assert dut.enter(vendor.clear_credit(0)).outcome == "ACCEPT"  # exhausted first
    dut.wait(1.0)
    record("relay open without credit", int(not dut.relay_closed()), nominal=1)
    result = dut.enter(vendor.credit("2.0"))
    record("credit token", result.outcome, nominal="ACCEPT")
    closed = dut.wait_until(dut.relay_closed, profile.relay.reconnect_limit_s * 5 + 5, 0.2)
    record("relay closed after the credit token", int(closed), nominal=1)
    if closed:
        record("reconnection time after ENTER", dut.number("C.51.1") - result.t_enter, "s", 0.0,
               profile.relay.reconnect_limit_s)


@pytest.mark.clause("SPLN D3.009-1:2010 low-credit alarm (456xx, 79)",
                    "declared: alarm.low_credit_kwh")
def test_low_credit_alarm_level(dut, vendor, record):
    set_result = dut.code("45605")
    record("set alarm level 5 kWh (45605)", set_result.outcome, nominal="ACCEPT")
    shown = dut.code("79")
    record("code 79 shows the level", shown.display, nominal="5 kWh")
    set_credit(dut, vendor, "6.0")
    record("alarm above the level", dut.register("C.55.0"), nominal="0")
    set_credit(dut, vendor, "4.0")
    record("alarm below the level", dut.register("C.55.0"), nominal="1")
    dut.code("45610")
