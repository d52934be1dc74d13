"""Keypad: backspace, the half-typed-token timeout, the lock-out and its release."""

import pytest

import sts
from rig.meter.under_test import record_outcome
from rig.record.measures import CREDIT_EXACT

KEYPAD = "SPLN D3.009-1:2010 keypad token entry"
LOCKOUT = "SPLN D3.009-1:2010 wrong-token lock-out"
FAST = (40, 60)  # press and gap, ms: a token in about 2 s of bench time
EDGE_S = 1.0  # an entry this close to a lock-out's declared end is not judged either way


@pytest.mark.clause(KEYPAD + " (backspace)")
def test_backspace_corrects_a_digit(dut, vendor, record):
    digits = vendor.credit("0.5").digits
    wrong = str((int(digits[10]) + 3) % 10)
    result = dut.entry(digits[:10] + wrong + "<" + digits[10:] + "#")
    record_outcome(record, "token with a corrected digit", result, "ACCEPT")


@pytest.mark.clause(KEYPAD + " (a token right after another)")
def test_a_token_typed_right_after_another(dut, vendor, record):
    """A second token begun 3 s after the first one's ENTER (well inside the entry timeout,
    as a customer with two tokens types them) is an entry of its own: both are accepted and
    both credits added. At 200x the plan's own reads put 20 s of bench time between most
    entries; this one does not depend on that."""
    first, second = vendor.credit("0.3"), vendor.credit("0.2")
    credit = dut.credit()
    dut.keys(first.digits + "#")
    dut.wait(3.0)
    record_outcome(record, "second token, 3 s after the first one's ENTER", dut.enter(second),
                   "ACCEPT")
    record("credit added by the two", float(dut.credit() - credit), "kWh", expected=0.5,
           tolerance=CREDIT_EXACT, fact="credit")


@pytest.mark.clause(KEYPAD + " (entry timeout)", "declared: tokens.entry_timeout_s")
@pytest.mark.faults("short-entry-timeout")
def test_half_typed_token_times_out(dut, vendor, profile, record):
    """A token with a pause of about 92 % of the declared timeout between two keys is still
    taken (the pause timed by the injector's clock); one left half-typed past the timeout is
    dropped."""
    timeout_s = profile.tokens.entry_timeout_s
    press_s = FAST[0] / 1000.0
    low, high = 0.87 * timeout_s, 0.98 * timeout_s
    lag, judged = 0.0, False
    for attempt in range(1, 5):
        slow = vendor.credit("0.5")
        _, t_half = dut.keys(slow.digits[:10], *FAST)
        dut.wait(0.925 * timeout_s - lag)
        t_rest, _ = dut.keys(slow.digits[10:], *FAST)
        result = dut.entry("#", *FAST)
        pause = t_rest - (t_half + press_s)  # the last key up to the next key down
        if low < pause < high:
            record_outcome(record, f"token with a {pause:.1f} s pause between two keys",
                           result, "ACCEPT")
            judged = True
            break
        record(f"attempt {attempt}: pause {pause:.1f} s, outside {low:g}..{high:g} s (not "
               "judged)", result.seen)
        lag += pause - 0.925 * timeout_s
        if not result.accepted:
            assert dut.enter(vendor.credit("0.1")).accepted  # no refusal count left behind
    record("a pause just inside the timeout was timed", int(judged), nominal=1)
    token = vendor.credit("0.5")
    credit = dut.credit()
    dut.keys(token.digits[:10])
    dut.wait(profile.tokens.entry_timeout_s + 2)
    rest = dut.entry(token.digits[10:] + "#")
    record_outcome(record, "rest of the token after the timeout", rest, "FORMAT_ERROR")
    record("credit untouched", float(dut.credit() - credit), "kWh",
           expected=0.0, tolerance=CREDIT_EXACT, fact="credit")
    record_outcome(record, "the whole token afterwards", dut.enter(token), "ACCEPT")


class LockoutClock:
    """The lock-out the declared policy predicts, from the injector's exact ENTER times."""

    def __init__(self, policy, press_s):
        self.policy = policy
        self.press_s = press_s
        self.refusals = 0
        self.until = float("-inf")
        self.started = float("-inf")

    def judged_at(self, result):
        return result.t_enter + self.press_s  # the meter acts on ENTER's release

    def expect(self, t):
        """LOCKED or the refusal, or None when t is too close to the end to say."""
        if abs(t - self.until) < EDGE_S:
            return None
        return "LOCKED" if t < self.until else "CRC_ERROR"

    def refused(self, t):
        self.refusals += 1
        duration = self.policy.duration(self.refusals)
        if duration > 0:
            self.started, self.until = t, t + duration


@pytest.mark.clause(LOCKOUT, "declared: lockout.threshold, lockout.first_s, lockout.factor, "
                    "lockout.cap_s")
@pytest.mark.faults("no-lockout", "early-lockout", "endless-lockout", "sticky-lockout")
def test_lockout_after_invalid_tokens(dut, vendor, profile, record):
    """Invalid tokens, typed one after the other: each one's result must be what the declared
    policy predicts at the moment the injector pressed its ENTER (locked while a lock-out of
    the declared length runs, judged again after it), until a lock-out is long enough to type
    a valid token inside it. Times are the injector's own, never the meter's."""
    lock = profile.lockout
    clock = LockoutClock(lock, FAST[0] / 1000.0)
    other = vendor.with_key(vendor.derive(pan="600727000000000009"))
    seen_locked = seen_after = False
    # read before the lock-out: inside it only the entries are timed, and a read (slow on a
    # slow optical link) must not use up the time left for the valid token (refused tokens
    # change no credit, so this is also the credit the valid token must leave untouched)
    started = dut.now()
    credit = dut.credit()
    credit_s = dut.now() - started  # the credit is read again inside the lock-out
    entry_s = 0.0  # the longest an entry took (typing and reading its result), bench time
    for n in range(1, lock.threshold + 20):
        started = dut.now()
        result = dut.enter(other.credit("1"), *FAST)
        entry_s = max(entry_s, dut.now() - started)
        t = clock.judged_at(result)
        expected = clock.expect(t)
        since = t - clock.started
        label = (f"invalid token {n}" if clock.refusals < lock.threshold
                 else f"invalid token {n}, {since:.1f} s into a {clock.until - clock.started:g}"
                      f" s lock-out")
        if expected is None:  # too close to the declared end: follow what the meter did
            record(label + " (at the lock-out's end, not judged)", result.seen)
            locked = result.seen == result.want("LOCKED")
        else:
            record_outcome(record, label, result, expected)
            locked = expected == "LOCKED"
            seen_locked |= locked
            seen_after |= not locked and clock.refusals >= lock.threshold
        if not locked:
            clock.refused(t)
        remaining = clock.until - dut.now()
        # long enough for what follows inside it: three entries, a credit read and, where
        # the profile declares it, a power cycle and one more entry (with room to spare for a
        # loaded machine, where every step takes longer in bench time)
        if seen_locked and seen_after and remaining >= 2 * (4 * entry_s + credit_s) + 20:
            break
        if locked and remaining > 0:
            dut.wait(remaining + 2 * EDGE_S)  # seen locked: the next one comes after its end
    record("entries judged inside a lock-out", int(seen_locked), nominal=1)
    record("entries judged after a lock-out ended", int(seen_after), nominal=1)
    assert clock.until - dut.now() > 3 * entry_s, "no lock-out long enough to go on"

    good = vendor.credit("1")
    record_outcome(record, "valid token during the lock-out", dut.enter(good, *FAST), "LOCKED")
    test = dut.entry(sts.test_token(0x2).digits + "#", *FAST, code=True)
    record("class 1 token during the lock-out (accepted)", int(test.accepted), nominal=1)
    record("short code during the lock-out (answered)", int(dut.code("41").accepted), nominal=1)
    record("credit untouched by the refused and locked-out tokens", float(dut.credit() - credit),
           "kWh", expected=0.0, tolerance=CREDIT_EXACT, fact="credit")
    if lock.reset_on_power_cycle:  # declared: a power cycle ends the lock-out
        dut.power_cycle(off_s=2.0)
        record("declared lock-out time left at the valid token after the power cycle",
               round(clock.until - dut.now(), 1), "s")
        record_outcome(record, "valid token after a power cycle in the lock-out",
                       dut.enter(good), "ACCEPT")
    else:
        dut.wait(clock.until - dut.now() + 1)
        record_outcome(record, "valid token after the lock-out", dut.enter(good), "ACCEPT")
    clock.refusals, clock.until = 0, float("-inf")
    if dut.offers("lockout_refusals"):
        record("refusal count reset by an accepted token",
               dut.fact("lockout_refusals"), nominal=0.0, fact="lockout_refusals")
    # the count starts afresh: threshold - 1 refusals lock nothing, the threshold-th locks
    for n in range(1, lock.threshold + 1):
        result = dut.enter(other.credit("1"), *FAST)
        t = clock.judged_at(result)
        record_outcome(record, f"after the reset, invalid token {n}", result,
                       clock.expect(t) or result.seen)
        clock.refused(t)
    dut.wait(clock.until - dut.now() + 2 * EDGE_S)  # the lock-out must end by itself
    record_outcome(record, "valid token once the lock-out ran out", dut.enter(vendor.credit("0.1")),
                   "ACCEPT")
    if dut.offers("lockout_refusals"):  # read, where offered: no race with the clock
        record("refusal count after a credit token was accepted (not a power cycle)",
               dut.fact("lockout_refusals"), nominal=0.0, fact="lockout_refusals")
    if lock.threshold > 1:
        # that credit token cleared the count (not a power cycle): one refusal now is refusal
        # 1 of a fresh count, which locks nothing, so a valid token right after it is taken
        record_outcome(record, "invalid token after the accepted one (refusal 1 again)",
                       dut.enter(other.credit("1"), *FAST), "CRC_ERROR")
        record_outcome(record, "valid token right after it (no lock-out below the threshold)",
                       dut.enter(vendor.credit("0.1"), *FAST), "ACCEPT")
