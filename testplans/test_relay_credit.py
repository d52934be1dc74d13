"""Relay and credit: depletion under load, reconnection, low-credit alarm.

Relay state and times come from the bench's instruments alone: the load-side voltage says
whether the relay is closed, the scope says when it moved (CH1 load voltage, CH2 the
injector's ENTER sync), and the energy the load drew says when the credit ran out.
"""


import pytest

from rig.meter.under_test import record_outcome
from rig.record.decision import PROVEN
from rig.record.measures import Measure, measures
from rig.record.plots import depletion_plot, relay_edge_plot

DEPLETION = "IEC 62055-31:2022 supply control switch: interrupt when credit is exhausted"
RECONNECT = "SPLN D3.009-1:2010 reconnection after an accepted credit token"
KWH = 3.6e6  # joules

DEPLETION_MEASURES = (
    # the bench's energy is sampled (its U is of the order of the class): a FAIL only when
    # proven, a result within U of a limit stays CONDITIONAL (rig.record.decision.PROVEN)
    Measure("energy the bench measured until the relay opened", "kWh", instrument="load",
            function="power", clause=DEPLETION, rule=PROVEN,
            obtained_as="load power readings integrated to the scope's relay edge"),
    Measure("energy the meter registered, against the bench's", "kWh", instrument="load",
            function="power", fact="energy_import", rule=PROVEN),
)
RECONNECT_MEASURES = (
    Measure("reconnection time after ENTER released", "s", instrument="scope",
            function="time_interval", clause=RECONNECT,
            obtained_as="scope CH2->CH1 less the CH2 pulse width"),
)


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


@pytest.mark.clause(DEPLETION, "declared: relay.disconnect_credit_kwh, ratings.accuracy_class")
@pytest.mark.faults("fast-energy", "credit-drift")
@measures(*DEPLETION_MEASURES)
def test_depletion_opens_relay(dut, vendor, load, relay_timer, energy_meter, profile, record,
                               attach_plot):
    """The energy the bench measured until the relay opened: a power meter's integrator
    where the bench has one, else the load's power readings integrated to the first reading
    after the opening (rig.bench.capabilities); the opening itself is the scope's dropout."""
    watts = 1000.0
    # 0.4 kWh: the 1 % class tolerance (4 Wh) well above what the sampled power readings can
    # miss at the end (about 1.4 Wh at 200x, one reading's interval at 1 kW)
    credit_kwh = 0.4
    set_credit(dut, vendor, profile, f"{credit_kwh:g}")
    record("relay closed with credit", int(dut.relay_closed()),
           nominal=1, fact="relay_closed")
    start_credit = float(dut.credit())
    energy_before = dut.fact("energy_import") if dut.offers("energy_import") else None
    available = start_credit - profile.relay.disconnect_credit_kwh
    # the wait is bounded by what the test set, never by what the meter reports
    expected_s = (credit_kwh - profile.relay.disconnect_credit_kwh) * KWH / watts
    relay_timer.arm_open(level=50.0, hold_s=0.05)
    energy_meter.start()
    t0 = dut.now()
    load.draw_power(watts)
    t1 = dut.now()
    t_start, u_start = (t0 + t1) / 2, (t1 - t0) / 2
    times, powers, credits = [], [], []
    opened_at = None

    def sample() -> bool:
        nonlocal opened_at
        times.append(dut.now())
        powers.append(energy_meter.power())
        # the credit (for the plot) every fourth reading: the power readings stay dense
        credits.append(float(dut.credit()) if len(times) % 4 == 1 else credits[-1])
        if relay_timer.seen():
            opened_at = times[-1]
            times.append(dut.now())  # one reading after the edge: nothing flows any more
            powers.append(energy_meter.power())
            credits.append(credits[-1])
            return True
        return False

    opened = dut.wait_until(sample, expected_s * 1.2 + 60,
                            poll_bench_s=energy_meter.poll_s(expected_s))
    load.on = False
    record("relay opened when credit ran out", int(opened), nominal=1, source="instrument",
           obtained="scope CH1 dropout trigger")
    assert opened
    reading = energy_meter.drawn(list(zip(times, powers, strict=True)), (t_start, u_start))
    # the timing of the comparison: what the way of measuring could have missed (the load's
    # start between two bench clock reads and the readings between samples, for sampled
    # readings); the instrument's own accuracy is scaled from the mean power it read
    drawn, timing = reading.kwh, reading.timing_kwh
    acc = profile.ratings.accuracy_class / 100.0
    record("energy the bench measured until the relay opened", drawn,
           low=available * (1 - acc), high=available * (1 + acc), timing=timing,
           scaled_from=reading.mean_power_w, instrument=reading.instrument,
           function=reading.function, obtained=reading.obtained)
    if energy_before is not None:
        registered = dut.fact("energy_import") - energy_before
        record("energy the meter registered, against the bench's", registered,
               low=drawn * (1 - acc), high=drawn * (1 + acc), reference=drawn, timing=timing,
               scaled_from=reading.mean_power_w, instrument=reading.instrument,
               function=reading.function)
    if dut.offers("credit"):
        record("remaining credit at disconnect", float(dut.credit()),
               "kWh", 0.0, profile.relay.disconnect_credit_kwh
               + float(profile.display.credit_resolution_kwh), fact="credit")
    wave_t, wave_v = relay_timer.waveform(points=600)
    attach_plot(relay_edge_plot(wave_t, wave_v, title="load voltage at disconnection"),
                "relay edge at credit exhaustion")
    attach_plot(depletion_plot([t - t_start for t in times], credits, powers,
                               relay_open_at=opened_at - t_start),
                "credit and power during depletion")


@pytest.mark.clause(RECONNECT, "declared: relay.reconnect_limit_s",
                    "IEC 62055-31:2022 no supply without credit after an interruption")
@pytest.mark.faults("no-reconnect", "exhausted-reconnects")
@measures(*RECONNECT_MEASURES)
def test_relay_closes_after_credit(dut, vendor, load, relay_timer, profile, record):
    """Reconnection timed by the scope: ENTER pressed (CH2) to the load voltage back (CH1)."""
    assert dut.enter(vendor.clear_credit(0)).accepted  # exhausted first
    dut.wait(1.0)
    record("relay open without credit", int(not dut.relay_closed()),
           nominal=1, fact="relay_closed")
    relay_timer.arm_close(level=50.0, window_s=profile.relay.reconnect_limit_s * 5 + 5)
    result = dut.enter(vendor.credit("2.0"))
    record_outcome(record, "credit token", result, "ACCEPT")
    # waited as far as the screen reaches: an edge later than that is a lower bound
    closed = dut.wait_until(relay_timer.seen, relay_timer.reach_s, 0.2)
    record("relay closed after the credit token", int(closed), nominal=1, source="instrument",
           obtained="scope CH1 rising edge")
    # the first rising crossing of the level comes within one period of the contact
    period = 1.0 / profile.ratings.frequency_hz
    timing = relay_timer.timing(profile.tokens.press_ms / 1000.0)
    record("reconnection time after ENTER released", timing.after_release, low=0.0,
           high=profile.relay.reconnect_limit_s + period,
           obtained=timing.obtained("scope CH2->CH1 less the CH2 pulse width"),
           bound="lower" if timing.later_than else "")
    # exhausted again: a power cycle must not give supply without credit
    assert dut.enter(vendor.clear_credit(0)).accepted
    dut.power_cycle(off_s=2.0)
    dut.wait(2.0)
    record("relay still open after a power cycle without credit",
           int(not dut.relay_closed()), nominal=1, fact="relay_closed")
    assert dut.enter(vendor.credit("2.0")).accepted


@pytest.mark.clause("SPLN D3.009-1:2010 low-credit alarm (456xx, 79)",
                    "declared: alarm.low_credit_kwh")
def test_low_credit_alarm_level(dut, vendor, profile, record):
    set_result = dut.code("45605")
    record("set alarm level 5 kWh (45605)", int(set_result.accepted), nominal=1)
    # the level it set, not the typed code still on the display (which holds a 5 too)
    record("code 45605 shows the level it set", int("5" in set_result.display.replace(
        "45605", "")), nominal=1, fact="display_text")
    shown = dut.code("79")
    record("code 79 shows the level", shown.display,
           nominal=dut.shown("5 kWh"), fact="display_text")
    if dut.offers("low_credit_alarm"):
        set_credit(dut, vendor, profile, "6.0")
        record("alarm above the level",
               int(dut.fact("low_credit_alarm")), nominal=0, fact="low_credit_alarm")
        set_credit(dut, vendor, profile, "4.0")
        record("alarm below the level",
               int(dut.fact("low_credit_alarm")), nominal=1, fact="low_credit_alarm")
    dut.code("45610")
