"""Relay and credit: depletion under load, reconnection, low-credit alarm.

Relay state and times come from the bench's instruments alone: the load-side voltage says
whether the relay is closed, the scope says when it moved (CH1 load voltage, CH2 the
injector's ENTER sync), and the energy the load drew says when the credit ran out.
"""

import itertools
import math

import pytest

from rig.meter.under_test import record_outcome
from rig.record.plots import depletion_plot, relay_edge_plot

DEPLETION = "IEC 62055-31:2022 supply control switch: interrupt when credit is exhausted"
RECONNECT = "SPLN D3.009-1:2010 reconnection after an accepted credit token"
KWH = 3.6e6  # joules


def set_credit(dut, vendor, profile, kwh: str) -> None:
    """Clear the credit, then add `kwh`; the credit the meter then holds is checked before
    the test goes on: a test that trusted a clear the meter did not carry out would time its
    waits from a wrong state (936 kWh at 1 kW: 936 h)."""
    resolution = float(profile.display.credit_resolution_kwh)
    assert dut.enter(vendor.clear_credit(0)).accepted
    left = float(dut.credit())
    if abs(left) > resolution:
        pytest.fail(f"precondition not met: credit {left:g} kWh after an accepted "
                    "clear-credit token, 0 expected")
    assert dut.enter(vendor.credit(kwh)).accepted
    held = float(dut.credit())
    if abs(held - float(kwh)) > resolution:
        pytest.fail(f"precondition not met: credit {held:g} kWh after clearing and adding "
                    f"{kwh} kWh")


def power_uncertainty(load, watts):
    """U (k = 2) of the load's power reading, from its declared specification (0 with a
    note when the load model declares none)."""
    from rig.record.uncertainty import UnknownSpecification, evaluate, model_of

    try:
        return evaluate(model_of(load, "load"), "power", watts).expanded, "load specification"
    except UnknownSpecification as exc:
        return 0.0, str(exc)


def energy_drawn(times, powers, t_end):
    """Joules drawn from times[0] to t_end (trapezoids over the load's power readings, the
    last reading held to t_end), and the bound of what the readings between samples could
    have missed (half of each step's change of power times its length)."""
    energy = missed = 0.0
    points = [(t, p) for t, p in zip(times, powers, strict=True) if t <= t_end]
    points.append((t_end, points[-1][1]))
    for (ta, pa), (tb, pb) in itertools.pairwise(points):
        energy += (pa + pb) / 2 * (tb - ta)
        missed += abs(pb - pa) / 2 * (tb - ta)
    return energy, missed


@pytest.mark.clause(DEPLETION, "declared: relay.disconnect_credit_kwh, ratings.accuracy_class")
@pytest.mark.faults("fast-energy", "credit-drift")
def test_depletion_opens_relay(dut, vendor, load, scope, profile, record, attach_plot):
    watts = 1000.0
    set_credit(dut, vendor, profile, "0.2")
    record("relay closed with credit" + dut.via("relay_closed"), int(dut.relay_closed()),
           nominal=1)
    start_credit = float(dut.credit())
    energy_before = dut.fact("energy_import") if dut.offers("energy_import") else None
    available = start_credit - profile.relay.disconnect_credit_kwh
    # the wait is bounded by what the test set (0.2 kWh), never by what the meter reports
    expected_s = (0.2 - profile.relay.disconnect_credit_kwh) * KWH / watts
    scope.arm_dropout(level=50.0, hold_s=0.05)
    t0 = dut.now()
    load.draw_power(watts)
    t1 = dut.now()
    t_start, u_start = (t0 + t1) / 2, (t1 - t0) / 2
    times, powers, credits = [], [], []

    def sample() -> bool:
        times.append(dut.now())
        powers.append(load.measure_power())
        credits.append(float(dut.credit()))
        return scope.triggered()

    opened = dut.wait_until(sample, expected_s * 1.2 + 60, poll_bench_s=expected_s / 12)
    load.on = False
    record("relay opened when credit ran out [instrument scope CH1]", int(opened), nominal=1)
    assert opened
    t_open = scope.trigger_time()
    drawn_j, missed_j = energy_drawn([t_start, *times], [*powers[:1], *powers], t_open)
    u_power, spec_note = power_uncertainty(load, watts)
    u_energy = math.hypot(watts * u_start, u_power / watts * drawn_j) + missed_j
    drawn = drawn_j / KWH
    acc = profile.ratings.accuracy_class / 100.0
    margin = u_energy / KWH
    record("energy the bench measured until the relay opened [instrument load power]", drawn,
           "kWh", available * (1 - acc) - margin, available * (1 + acc) + margin)
    record("uncertainty of the measured energy (start, power, sampling)", margin, "kWh")
    if u_power == 0.0:
        record("power reading uncertainty not declared", spec_note)
    if energy_before is not None:
        registered = dut.fact("energy_import") - energy_before
        record("energy the meter registered, against the bench's" + dut.via("energy_import"),
               registered, "kWh", drawn * (1 - acc) - margin, drawn * (1 + acc) + margin)
    if dut.offers("credit"):
        record("remaining credit at disconnect" + dut.via("credit"), float(dut.credit()),
               "kWh", 0.0, profile.relay.disconnect_credit_kwh
               + float(profile.display.credit_resolution_kwh))
    wave_t, wave_v = scope.waveform(1, points=600)
    attach_plot(relay_edge_plot(wave_t, wave_v, title="load voltage at disconnection"),
                "relay edge at credit exhaustion")
    attach_plot(depletion_plot([t - t_start for t in times], credits, powers,
                               relay_open_at=t_open - t_start),
                "credit and power during depletion")


@pytest.mark.clause(RECONNECT, "declared: relay.reconnect_limit_s",
                    "IEC 62055-31:2022 no supply without credit after an interruption")
@pytest.mark.faults("no-reconnect", "exhausted-reconnects")
def test_relay_closes_after_credit(dut, vendor, load, scope, profile, record):
    """Reconnection timed by the scope: ENTER pressed (CH2) to the load voltage back (CH1)."""
    assert dut.enter(vendor.clear_credit(0)).accepted  # exhausted first
    dut.wait(1.0)
    record("relay open without credit" + dut.via("relay_closed"), int(not dut.relay_closed()),
           nominal=1)
    scope.arm_edge(level=50.0, slope="POS", channel=1)
    result = dut.enter(vendor.credit("2.0"))
    record_outcome(record, "credit token", result, "ACCEPT")
    closed = dut.wait_until(scope.triggered, profile.relay.reconnect_limit_s * 5 + 5, 0.2)
    record("relay closed after the credit token [instrument scope CH1]", int(closed),
           nominal=1)
    if closed:
        # the first rising crossing of the level comes within one period of the contact
        period = 1.0 / profile.ratings.frequency_hz
        record("reconnection time after ENTER released [instrument scope CH2->CH1]",
               scope.delay(2, 1) - scope.pulse_width(2), "s", 0.0,
               profile.relay.reconnect_limit_s + period)
    # exhausted again: a power cycle must not give supply without credit
    assert dut.enter(vendor.clear_credit(0)).accepted
    dut.power_cycle(off_s=2.0)
    dut.wait(2.0)
    record("relay still open after a power cycle without credit" + dut.via("relay_closed"),
           int(not dut.relay_closed()), nominal=1)
    assert dut.enter(vendor.credit("2.0")).accepted


@pytest.mark.clause("SPLN D3.009-1:2010 low-credit alarm (456xx, 79)",
                    "declared: alarm.low_credit_kwh")
def test_low_credit_alarm_level(dut, vendor, profile, record):
    set_result = dut.code("45605")
    record("set alarm level 5 kWh (45605)", int(set_result.accepted), nominal=1)
    shown = dut.code("79")
    record("code 79 shows the level" + dut.via("display_text"), shown.display,
           nominal=dut.shown("5 kWh"))
    if dut.offers("low_credit_alarm"):
        set_credit(dut, vendor, profile, "6.0")
        record("alarm above the level" + dut.via("low_credit_alarm"),
               int(dut.fact("low_credit_alarm")), nominal=0)
        set_credit(dut, vendor, profile, "4.0")
        record("alarm below the level" + dut.via("low_credit_alarm"),
               int(dut.fact("low_credit_alarm")), nominal=1)
    dut.code("45610")
