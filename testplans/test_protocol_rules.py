"""Rules that hold in every state, found by measuring the plans against mutants of the
emulated meter (benchmarks/mutation.py): what a message, a timer or a counter must do across
the events no other test happens to try. Each rule checks a declared value or a rule of the
standard over its whole range, not the one mistake that showed it was missing.
"""

import pytest

from rig.meter.under_test import record_outcome

DISPLAY = "SPLN D3.009-1:2010 display messages and short codes"
NV = "IEC 62055-31:2022 non-volatile registers through supply interruptions"


@pytest.mark.clause(DISPLAY + " (after a supply interruption)", NV)
def test_power_cycle_ends_the_entry_message(dut, vendor, profile, record):
    """A result message answers one entry: it is not state the meter keeps. After a supply
    interruption the meter shows its idle display, the credit, whatever it showed before
    (an accepted token's message, a refusal's)."""
    if not dut.offers("display_text"):
        dut.fact("display_text")  # skips, naming the fact
    messages = set(profile.display.messages.values())
    resolution = float(profile.display.credit_resolution_kwh)
    for label, token, outcome in (
            ("accepted token", vendor.credit("0.5"), "ACCEPT"),
            ("refused token", vendor.with_key(bytes(8)).credit("0.5"), "CRC_ERROR")):
        record_outcome(record, f"{label} before the power cycle", dut.enter(token), outcome)
        credit = float(dut.credit())
        dut.power_cycle(off_s=2.0)
        shown = str(dut.display_now())
        record(f"display after the power cycle ({label} before) shows no message",
               int(not any(m and m in shown for m in messages)), nominal=1,
               fact="display_text")
        try:
            number = dut.shown_number(shown)
        except ValueError:
            number = float("nan")
        record(f"display after the power cycle ({label} before) shows the credit",
               number, "kWh", credit - resolution, credit + resolution, fact="display_text")


MPL = "IEC 62055-41:2014 6.3.9 SetMaximumPowerLimit"


@pytest.mark.clause(MPL + " (both ends of its range)", "declared: overload.power_limit_w, "
                    "overload.trip_delay_s, overload.reconnect_s")
def test_power_limit_at_both_ends_of_its_range(dut, vendor, load, profile, record):
    """The limit a power limit token sets, at both ends of what it can set: 0 W is no limit
    (the profile declares it so: a load draws on past the trip delay), and 1 W, the smallest
    limit, trips on any load after the declared delay and reconnects after the declared
    time once the load is off."""
    if dut.credit() < 5:
        assert dut.enter(vendor.credit("20")).accepted
    ov = profile.overload
    try:
        record_outcome(record, "power limit 0 W (no limit)", dut.enter(vendor.power_limit(0)),
                       "ACCEPT")
        load.draw_power(1500)  # inside every listed load's rating (the IT8615: 1800 W)
        dut.wait(ov.trip_delay_s * 1.5)
        record("relay closed past the trip delay with no limit", int(dut.relay_closed()),
               nominal=1, fact="relay_closed")
        load.on = False
        record_outcome(record, "power limit 1 W (the smallest)",
                       dut.enter(vendor.power_limit(1)), "ACCEPT")
        load.draw_power(100)
        opened = dut.wait_until(lambda: not dut.relay_closed(), ov.trip_delay_s * 1.5 + 5, 2.0)
        record("relay opened on a load over a 1 W limit", int(opened), nominal=1,
               fact="relay_closed")
        load.on = False
        closed = dut.wait_until(dut.relay_closed, ov.reconnect_s * 1.5 + 5, 5.0)
        record("relay reconnected once the load is off", int(closed), nominal=1,
               fact="relay_closed")
    finally:
        load.on = False
        assert dut.enter(vendor.power_limit(0)).accepted



KEYPAD = "SPLN D3.009-1:2010 keypad token entry"


@pytest.mark.clause(KEYPAD + " (entry timeout)", DISPLAY, "declared: tokens.entry_timeout_s")
def test_entry_timeout_clears_the_typed_digits(dut, vendor, profile, record):
    """A half-typed entry the meter dropped at its entry timeout is gone from the display
    too: it shows its idle display (the credit) again, not the digits it threw away."""
    if not dut.offers("display_text"):
        dut.fact("display_text")  # skips, naming the fact
    resolution = float(profile.display.credit_resolution_kwh)
    credit = float(dut.credit())
    digits = vendor.credit("0.5").digits[:10]
    dut.keys(digits)
    dut.wait(profile.tokens.entry_timeout_s + 2)
    shown = str(dut.display_now())
    record("display after the entry timeout shows none of the typed digits",
           int(digits[-4:] not in shown.replace(" ", "")), nominal=1, fact="display_text")
    try:
        number = dut.shown_number(shown)
    except ValueError:
        number = float("nan")
    record("display after the entry timeout shows the credit", number, "kWh",
           credit - resolution, credit + resolution, fact="display_text")


@pytest.mark.clause(KEYPAD + " (entry lengths)", DISPLAY)
def test_entry_lengths_at_both_ends_of_the_code_range(dut, vendor, profile, record):
    """Every length an entry can have, judged at the ends of each range: a token has 20
    digits and a short code 2 to 6 (the longest declared code is 123xxx, the alarm repeat),
    so 1, 7 and 19 digits are format errors, and a 6-digit code is taken. A 5-digit code
    that is not 456xx leaves the alarm level alone and shows the declared message of an
    unsupported function."""
    message = profile.display.message("FORMAT_ERROR")
    for digits in ("1", "1234567", vendor.credit("0.5").digits[:19]):
        result = dut.entry(digits + "#", code=len(digits) < 20)
        record_outcome(record, f"{len(digits)}-digit entry", result, "FORMAT_ERROR")
        if dut.offers("display_text"):  # the display shows the refusal's declared message
            record(f"display after the {len(digits)}-digit entry", result.display,
                   nominal=dut.shown(message), fact="display_text")
    repeat = int(profile.alarm.repeat_min)
    other = 45 if repeat != 45 else 40
    try:
        taken = dut.code(f"123{other:03d}")
        record(f"6-digit code 123{other:03d} (alarm repeat {other} min) taken",
               int(taken.accepted), nominal=1)
        # the number itself, not the typed code still on the display (which holds it too)
        shown = taken.display.replace(f"123{other:03d}", "")
        record(f"code 123{other:03d} shows the repeat it set", int(str(other) in shown),
               nominal=1, fact="display_text")
    finally:
        assert dut.code(f"123{repeat:03d}").accepted  # the declared repeat back
    if dut.offers("alarm_level"):
        # a 5-digit code of another shape than 456xx sets no alarm level
        level = dut.fact("alarm_level")
        unknown = dut.code("78912")
        record("alarm level after an undeclared 5-digit code (78912)", dut.fact("alarm_level"),
               nominal=level, fact="alarm_level")
        if dut.offers("display_text"):  # a code the meter does not know is a function it
            # does not offer: the declared message of FUNCTION_ERROR ("unsupported function")
            record("display after the undeclared code 78912", unknown.display,
                   nominal=dut.shown(profile.display.message("FUNCTION_ERROR")),
                   fact="display_text")


@pytest.mark.clause(KEYPAD + " (digits shown as typed)", DISPLAY,
                    "declared: tokens.entry_timeout_s")
def test_display_shows_the_digits_as_they_are_typed(dut, vendor, profile, record):
    """While a token is typed the display shows the digits typed so far (the last ones
    where the display is narrower), and a backspace takes the last one off. Each display
    read must end inside the entry timeout from the key before it, and the digits must span
    less than it (on the injector's clock): a read that ends later, or a gap the timeout
    ended, may show a dropped entry, and is tried again (after four such tries the test does
    not conclude: the bench, not the meter, was too slow)."""
    if not dut.offers("display_text"):
        dut.fact("display_text")  # skips, naming the fact
    timeout_s = float(profile.tokens.entry_timeout_s)
    digits = vendor.credit("0.5").digits[:10]
    judged = False
    for attempt in range(1, 5):
        try:
            t_first, t_key = dut.keys(digits)
            typing = str(dut.display_now()).replace(" ", "")
            t_bs, _ = dut.keys("<")
            left = str(dut.display_now()).replace(" ", "")
            # the digits' own span too: an injector that woke late between two digits (a
            # loaded host at 200x) leaves a gap the meter's entry timeout may have ended
            late = max(t_key - t_first, t_bs - t_key, dut.now() - t_bs)
        finally:
            dut.keys("<" * 12)
        if late < timeout_s:
            record("display while typing shows the last digits typed",
                   int(digits[-6:] in typing), nominal=1, fact="display_text")
            record("display after a backspace shows the digits left",
                   int(digits[-7:-1] in left and not left.endswith(digits[-6:])), nominal=1,
                   fact="display_text")
            judged = True
            break
        record(f"attempt {attempt}: {late:.1f} s between two keys or a key and a read, past "
               f"the {timeout_s:g} s entry timeout (not judged)", typing + " / " + left)
    if not judged:  # the bench could not look in time: nothing is known of the meter
        pytest.skip(f"not concluded: none of 4 tries kept its keys and reads inside the "
                    f"{timeout_s:g} s entry timeout on this bench (its camera or injector is "
                    "too slow at this clock speed); the meter was not judged")

