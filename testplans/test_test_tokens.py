"""Test tokens (class 1) and keypad short codes: relay test, display test, shown values."""

import pytest

import sts
from rig.bench.capabilities import RelayEdgeTimer, relay_window
from rig.record.measures import Measure, measures
from rig.record.plots import relay_edge_plot
from sts.pan import MeterPAN

TEST_TOKEN = "IEC 62055-41:2014 6.3.8 InitiateMeterTest/Display (class 1)"
SHORT_CODES = "SPLN D3.009-1:2010 keypad short codes"

#: the relay test's measurements, all from the scope (CH2 the ENTER sync, CH1 the load)
RELAY_TEST = (
    Measure("response from ENTER pressed (incl. the key press)", "s",
            instrument="scope", function="time_interval", obtained_as="scope CH2->CH1"),
    Measure("ENTER held", "s", instrument="scope", function="time_interval",
            obtained_as="scope CH2 pulse width"),
    Measure("relay operate time after ENTER released", "s", low="zero",
            high="relay.operate_limit_s", clause="declared: relay.operate_limit_s",
            instrument="scope", function="time_interval",
            obtained_as="scope CH2->CH1 less the CH2 pulse width"),
)
#: what the meter shows (display) and registers, against the bench's instruments
SHOWN = (
    Measure("voltage shown (code 41)", "V", tolerance="accuracy.display_tolerance_pct",
            relative=True, instrument="dmm", function="ac_voltage", source="display",
            obtained_as="display code 41; reference: dmm"),
    Measure("current shown (code 44)", "A", tolerance="accuracy.display_tolerance_pct",
            relative=True, instrument="dmm", function="ac_current", source="display",
            obtained_as="display code 44; reference: dmm"),
    Measure("power shown (code 47)", "W", tolerance="accuracy.display_tolerance_pct",
            relative=True, instrument="load", function="power", source="display",
            obtained_as="display code 47; reference: the bench's power reference"),
    Measure("voltage register against the DMM", "V",
            tolerance="accuracy.display_tolerance_pct", relative=True, instrument="dmm",
            function="ac_voltage", fact="voltage"),
    Measure("current register against the DMM", "A",
            tolerance="accuracy.display_tolerance_pct", relative=True, instrument="dmm",
            function="ac_current", fact="current"),
)


def start_relay_test(dut, timer, profile, keys):
    """Arm `timer` for the supply going at the load within a few operate limits of ENTER,
    then type `keys` (a relay test code or token): the entry's result and the press time.
    Skips where the relay is already open."""
    if not dut.relay_closed():
        pytest.skip("the relay is open (no credit): a relay test needs it closed")
    press_s = profile.tokens.press_ms / 1000.0
    timer.arm_open(level=50.0, hold_s=0.05,
                   window_s=relay_window(profile.relay.operate_limit_s, press_s))
    return dut.entry(keys, code=True), press_s


def relay_test(dut, scope, profile, record, attach_plot, keys, title):
    """The relay test timed by the scope alone: from ENTER pressed (injector sync, CH2) to
    the supply gone at the load (CH1), less the sync pulse's measured width (the meter acts on
    ENTER's release; the host's timing of the press never enters the verdict). The window is
    a few times the limit, so a late relay is measured, and one later than the screen reaches
    is recorded as that lower bound, over the limit."""
    timer = RelayEdgeTimer(scope)  # the screen shows the ENTER press before the edge
    limit_s = profile.relay.operate_limit_s
    result, press_s = start_relay_test(dut, timer, profile, keys)
    record("relay test started (answered)", int(result.accepted), nominal=1)
    dut.wait_until(timer.seen, timer.reach_s + 10.0, 0.05)  # past the screen's reach
    timing = timer.timing(press_s)
    scope_range = {"range_": timing.screen_s}  # the screen's width: its time uncertainty
    bound = "lower" if timing.later_than else ""  # later than the screen: "> X s"
    record("response from ENTER pressed (incl. the key press)", timing.from_sync,
           obtained=timing.obtained("scope CH2->CH1"), bound=bound, **scope_range)
    if timing.held is not None:  # the ENTER sync pulse: how long the key was really down
        record("ENTER held", timing.held, **scope_range)
    record("relay operate time after ENTER released", timing.after_release,
           obtained=timing.obtained("scope CH2->CH1 less the CH2 pulse width"),
           bound=bound, **scope_range)
    if timer.seen():
        wave_t, wave_v = timer.waveform(points=600)
        shown = title if not timing.later_than else \
            f"{title}: operate time {timing.shown} s, the press before the screen"
        attach_plot(relay_edge_plot(wave_t, wave_v, title=shown,
                                    measured_s=None if timing.later_than
                                    else timing.after_release, limit_s=limit_s), title)
    reclosed = dut.wait_until(dut.relay_closed, profile.relay.test_duration_s + 10, 0.5)
    record("relay closes again after the test", int(reclosed),
           nominal=1, fact="relay_closed")


@pytest.fixture
def with_credit(dut, vendor):
    if dut.credit() < 5:
        assert dut.enter(vendor.credit("10")).accepted
    dut.wait_until(dut.relay_closed, 5, 0.2)


@pytest.mark.clause(SHORT_CODES + " 01 relay test", "declared: relay.operate_limit_s")
@pytest.mark.faults("late-relay", "marginal-relay")
@measures(*RELAY_TEST)
def test_relay_test_code(dut, with_credit, scope, profile, record, attach_plot):
    relay_test(dut, scope, profile, record, attach_plot, "01#", "relay test (code 01)")


@pytest.mark.clause(TEST_TOKEN + " test 1: load switch", "declared: relay.operate_limit_s")
@pytest.mark.faults("late-relay", "marginal-relay")
@measures(*RELAY_TEST)
def test_relay_test_token(dut, with_credit, scope, profile, record, attach_plot):
    token = sts.test_token(0x1)
    relay_test(dut, scope, profile, record, attach_plot, token.digits + "#",
               "relay test (class 1 token, control bit 0)")


@pytest.mark.clause(TEST_TOKEN + " test 2: display", SHORT_CODES + " 00/02 display test")
def test_display_test(dut, record):
    shown = dut.entry(sts.test_token(0x2).digits + "#", code=True)
    record("display test token", shown.display,
           nominal=dut.shown("888888888"), fact="display_text")
    record("code 02", dut.code("02").display,
           nominal=dut.shown("888888888"), fact="display_text")


@pytest.mark.clause(TEST_TOKEN + " test 0: all tests (every control bit set)")
@pytest.mark.parametrize("mfr_digits", [2, 4], ids=["2-digit MfrCode", "4-digit MfrCode"])
def test_test_all_token_runs_the_display_test(dut, with_credit, profile, record, mfr_digits):
    """A control field of all ones (36 bits beside a 2-digit MfrCode, 28 beside a 4-digit
    one, MfrCode 0: every maker) is test 0, all tests: the display test (every segment) is
    among them, not only the relay test, and not the field read as another width. The
    display is watched from ENTER to the end of the declared test time; the relay comes
    back after it."""
    bits = 36 if mfr_digits == 2 else 28
    token = sts.test_token((1 << bits) - 1, mfr_digits=mfr_digits)
    result = dut.entry(token.digits + "#", code=True)
    record(f"test-all token ({bits}-bit control) taken", int(result.accepted), nominal=1)
    segments = dut.shown("888888888")
    seen = [result.display]
    end = dut.now() + float(profile.relay.test_duration_s)
    while segments not in seen and dut.now() < end:
        seen.append(dut.display_now())
    record("display test (every segment) shown during the test", int(segments in seen),
           nominal=1, fact="display_text")
    reclosed = dut.wait_until(dut.relay_closed, profile.relay.test_duration_s + 10, 0.5)
    record("relay closed again after the tests", int(reclosed), nominal=1, fact="relay_closed")


@pytest.mark.clause(TEST_TOKEN + " test 0: all tests (the load switch test among them)")
def test_test_all_token_runs_the_relay_test(dut, with_credit, relay_timer, profile, record):
    """Test 0 runs every test, the load switch test too: the scope sees the supply go at the
    load after the token's ENTER. At the emulated bench's speed the relay is open for a few
    milliseconds only, so a poll of the relay state could miss it; the scope's dropout
    trigger does not. The meter may run its tests one after another, so the wait covers the
    declared test time of each test before the relay's (display, then relay) and the operate
    limit; the time itself is test 1's verdict (test_relay_test_token), not this one's."""
    relay = profile.relay
    result, _ = start_relay_test(dut, relay_timer, profile,
                                 sts.test_token((1 << 36) - 1).digits + "#")
    record("test-all token taken", int(result.accepted), nominal=1)
    opened = dut.wait_until(relay_timer.seen,
                            relay_timer.reach_s + 2 * relay.test_duration_s + 10, 0.05)
    record("relay opened by the test-all token", int(opened), nominal=1,
           source="instrument", obtained="scope CH1 dropout trigger")
    reclosed = dut.wait_until(dut.relay_closed, 2 * relay.test_duration_s + 10, 0.5)
    record("relay closed again after the tests", int(reclosed), nominal=1, fact="relay_closed")


@pytest.mark.clause(TEST_TOKEN + " register display", SHORT_CODES + " 04 KRN, 75 meter number")
def test_register_display(dut, bench_config, record):
    keys = bench_config.meter.keys
    record("code 75 meter number", dut.code("75").display,
           nominal=dut.shown(MeterPAN.parse(bench_config.meter.pan).drn), fact="display_text")
    record("code 77 supply group", dut.code("77").display,
           nominal=dut.shown(keys.sgc), fact="display_text")
    shown = dut.code("04").display
    krn = int(dut.fact("key_revision"))
    kt = int(dut.fact("key_type")) if dut.offers("key_type") else keys.kt
    record("code 04 key revision", shown,
           nominal=dut.shown(f"KRN {krn} KT {kt}"), fact="key_revision")


@pytest.mark.clause(SHORT_CODES + " 41/44/47 shown V, A, W",
                    "declared: accuracy.display_tolerance_pct")
@pytest.mark.faults("voltage-reads-high")
@measures(*SHOWN)
def test_shown_values_agree_with_instruments(dut, with_credit, load, dmm, energy_meter, record):
    """Voltage, current and power the meter shows agree with the bench's instruments (the
    power with its power reference: the power meter where the bench has one, else the
    load's own reading)."""
    load.draw_current(4.0)
    dut.wait(2.0)
    try:
        # each shown value between two instrument readings: what the quantity moved in
        # between goes into its uncertainty (the timing of the comparison)
        v_dmm = [dmm.measure_voltage_ac()]
        v_text = dut.code("41").display
        v_dmm.append(dmm.measure_voltage_ac())
        i_dmm = [dmm.measure_current_ac()]
        i_text = dut.code("44").display
        i_dmm.append(dmm.measure_current_ac())
        p_ref = [energy_meter.power()]
        p_text = dut.code("47").display
        p_ref.append(energy_meter.power())
        registers = {}
        for name, read in (("voltage", dmm.measure_voltage_ac),
                           ("current", dmm.measure_current_ac)):
            if dut.reports(name):
                before = read()
                registers[name] = (dut.fact(name), [before, read()])
    finally:
        load.on = False
    for name, text, reference, by in (("voltage shown (code 41)", v_text, v_dmm, dmm),
                                      ("current shown (code 44)", i_text, i_dmm, dmm),
                                      ("power shown (code 47)", p_text, p_ref,
                                       energy_meter.instrument)):
        record(name, dut.shown_number(text), reference=tuple(reference), shown=text,
               instrument=by)
    for name, (value, reference) in registers.items():
        record(f"{name} register against the DMM", value, reference=tuple(reference))
