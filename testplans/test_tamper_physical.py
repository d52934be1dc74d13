"""Plans that need a person: physical tamper, and reading the display where no camera is.

A person opens the terminal cover or holds a magnet to the meter when the `operator` asks,
and says what the display shows. On the emulated bench the physical step is acted by the
emulator (its control channel) and the answers come from a file:

    rig run --answers testplans/answers/emulated.txt testplans/test_tamper_physical.py

Without an answers file and without a terminal each test skips, naming the operator step.
Every answer is in the record (kind "operator") and in the test's table as operator-observed.
"""

import re

import pytest

from rig.record.measures import Measure, measures, not_applicable

TAMPER = "SPLN D3.009-1:2010 tamper (PERIKSA)"
CLEAR = "IEC 62055-41:2014 6.3.15 ClearTamperCondition"
DISPLAY = "SPLN D3.009-1:2010 display messages and short codes"

COVER_OPEN = "Open the meter's terminal cover."
COVER_CLOSE = "Close the meter's terminal cover."
MAGNET_ON = "Hold the test magnet against the meter's magnetic sensor mark."
MAGNET_OFF = "Take the magnet away from the meter."
SHOWS_PERIKSA = "Does the meter's display show PERIKSA?"


def _declared(profile, name):
    """A physical tamper sensor the profile declares (`tamper.<name>`); a profile that says
    nothing is taken to have it (PLN meters have both)."""
    return bool(getattr(profile.tamper, name, True))


def _tamper_then_clear(dut, vendor, operator, profile, record, *, on, off, act_on, act_off,
                       what):
    events = dut.fact("tamper_events")
    if dut.credit() < 1:
        assert dut.enter(vendor.credit("5")).accepted
    try:
        operator.instruct(on, emulate=act_on)
        dut.wait(1.0)
        record(f"tamper latched ({what})", int(dut.fact("tamper")), nominal=1)
        record(f"tamper events counted ({what})", dut.fact("tamper_events") - events,
               nominal=1.0)
        operator.instruct(off, emulate=act_off)
        dut.wait(1.0)
        record(f"tamper still latched after the {what} ended", int(dut.fact("tamper")),
               nominal=1)
        refused = dut.enter(vendor.credit("1"))
        if profile.tamper.refuse_credit:
            record("credit token while tampered", refused.seen, nominal=refused.want("TAMPER"))
            record("display shows PERIKSA", operator.confirm(SHOWS_PERIKSA), nominal=True,
                   source="operator")
    finally:
        if dut.fact("tamper"):
            cleared = dut.enter(vendor.clear_tamper())
            record("clear tamper token", cleared.seen, nominal=cleared.want("ACCEPT"))
            record("tamper cleared", int(dut.fact("tamper")), nominal=0)
    after = dut.enter(vendor.credit("1"))
    record("credit token after clearing", after.seen, nominal=after.want("ACCEPT"))


@pytest.mark.clause(TAMPER + " (terminal cover)", CLEAR, "declared: tamper.refuse_credit")
def test_terminal_cover_open_is_tamper(dut, vendor, operator, profile, record):
    if not _declared(profile, "terminal_cover"):
        not_applicable("the meter profile declares no terminal cover switch "
                       "(tamper.terminal_cover)")
    _tamper_then_clear(dut, vendor, operator, profile, record, on=COVER_OPEN, off=COVER_CLOSE,
                       act_on="terminal-cover-open", act_off="terminal-cover-close",
                       what="terminal cover")


@pytest.mark.clause(TAMPER + " (magnetic field)", CLEAR, "declared: tamper.refuse_credit")
def test_magnet_is_tamper(dut, vendor, operator, profile, record):
    if not _declared(profile, "magnet"):
        not_applicable("the meter profile declares no magnetic field sensor (tamper.magnet)")
    _tamper_then_clear(dut, vendor, operator, profile, record, on=MAGNET_ON, off=MAGNET_OFF,
                       act_on="magnet-on", act_off="magnet-off", what="magnet")


def _first_number(text):
    match = re.search(r"-?\d+(?:\.\d+)?", text)
    return float(match.group()) if match else None


@pytest.mark.clause(DISPLAY, "declared: accuracy.display_tolerance_pct",
                    "declared: display.messages")
@measures(Measure("voltage shown", "V", tolerance="accuracy.display_tolerance_pct",
                  relative=True, instrument="source", function="ac_voltage", source="operator",
                  obtained_as="operator reads display code 41; reference: source"))
def test_display_read_by_the_operator(dut, vendor, operator, bench_config, profile, source,
                                      record):
    """Where no camera is fitted, a person reads the display: the message after a token
    and the voltage a short code shows, checked against the AC source."""
    if getattr(bench_config.meter, "camera", None):
        not_applicable("a camera reads this bench's display (meter.camera)")
    code = "41"  # PLN: supply voltage
    dut.code(code)
    shown = operator.observe(f"What does the display show after code {code}?")
    volts = _first_number(shown)
    record(f"display after code {code}", shown, source="operator")
    record("voltage shown", volts, reference=source.measure_voltage(), shown=shown)
    accepted = dut.enter(vendor.credit("1"))
    record("credit token", accepted.seen, nominal=accepted.want("ACCEPT"))
    message = operator.observe("What does the display show after the credit token?")
    expected = profile.display.messages.get("ACCEPT", "BENAR")
    record("message after the token", message.strip().upper(), source="operator",
           nominal=expected)
