"""Keypad: backspace, the half-typed-token timeout, the lock-out and its release."""

import pytest

import sts

KEYPAD = "SPLN D3.009-1:2010 keypad token entry"
LOCKOUT = "SPLN D3.009-1:2010 wrong-token lock-out"


@pytest.mark.clause(KEYPAD + " (backspace)")
def test_backspace_corrects_a_digit(dut, vendor, record):
    digits = vendor.credit("0.5").digits
    wrong = str((int(digits[10]) + 3) % 10)
    before = dut.register("C.52.2")
    dut.keys(digits[:10] + wrong + "<" + digits[10:] + "#")
    dut.wait_until(lambda: dut.register("C.52.2") != before, 30, 0.2)
    record("token with a corrected digit", dut.register("C.52.0"), nominal="ACCEPT")


@pytest.mark.clause(KEYPAD + " (entry timeout)", "declared: tokens.entry_timeout_s")
def test_half_typed_token_times_out(dut, vendor, profile, record):
    token = vendor.credit("0.5")
    credit = dut.credit()
    dut.keys(token.digits[:10])
    dut.wait(profile.tokens.entry_timeout_s + 2)
    before = dut.register("C.52.2")
    dut.keys(token.digits[10:] + "#")
    dut.wait_until(lambda: dut.register("C.52.2") != before, 30, 0.2)
    record("rest of the token after the timeout", dut.register("C.52.0"),
           nominal="FORMAT_ERROR")
    record("credit untouched", float(dut.credit() - credit), "kWh", -0.0005, 0.0005)
    record("the whole token afterwards", dut.enter(token).outcome, nominal="ACCEPT")


@pytest.mark.clause(LOCKOUT, "declared: lockout.threshold, lockout.first_s, lockout.factor, "
                    "lockout.cap_s")
@pytest.mark.faults("no-lockout")
def test_lockout_after_invalid_tokens(dut, vendor, profile, record):
    """Invalid tokens until the lock-out is long enough to type a valid one inside it; each
    lock-out's length is read on the meter's own clock (lock-out end C.58.2 minus the time
    the refusal was processed, C.52.3)."""
    lock = profile.lockout
    other = vendor.with_key(vendor.derive(pan="600727000000000009"))
    refusals, duration = 0, 0.0
    while refusals < lock.threshold + 6:
        result = dut.enter(other.credit("1"))
        refusals += 1
        if result.outcome == "LOCKED":
            continue  # typed while still locked: not judged, not counted
        record(f"invalid token {refusals}", result.outcome, nominal="CRC_ERROR")
        expected = lock.duration(int(dut.number("C.58.1")))
        ends, judged = dut.number("C.58.2"), dut.number("C.52.3")
        duration = ends - judged if ends >= judged else 0.0
        if refusals >= lock.threshold:
            record(f"lock-out after refusal {refusals}", duration, "s",
                   expected - 0.001, expected + 0.001)
        if duration >= 60 + 4 * dut.host_slack_s:
            break
    assert duration > 0, "the meter never locked its keypad"
    good = vendor.credit("1")
    credit = dut.credit()
    before = dut.register("C.52.2")
    dut.bench.keypad.type_token(good.digits, 40, 60)  # fast, to land inside the lock-out
    dut.wait_until(lambda: dut.register("C.52.2") != before, 30, 0.2)
    record("valid token during the lock-out", dut.register("C.52.0"), nominal="LOCKED")
    record("display", dut.register("C.56.0"), nominal="BLOKIR")
    record("credit untouched", float(dut.credit() - credit), "kWh", -0.0005, 0.0005)
    record("class 1 token during the lock-out", dut.enter(sts.test_token(0x2)).outcome,
           nominal="ACCEPT")
    record("short code during the lock-out", dut.code("41").outcome, nominal="ACCEPT")
    dut.wait(dut.number("C.58.0") + 1)
    record("valid token after the lock-out", dut.enter(good).outcome, nominal="ACCEPT")
    record("refusal count reset by an accepted token", dut.number("C.58.1"), nominal=0.0)
