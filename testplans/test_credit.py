"""Credit tokens (IEC 62055-41 class 0): accepted, credited exactly, refused when they must be."""

from datetime import datetime, timedelta
from decimal import Decimal

import pytest

from rig.meter.under_test import record_outcome
from rig.record.measures import CREDIT_EXACT, not_applicable

ACCEPT = "IEC 62055-41:2014 8.2 TransferCredit accepted"
TID_RULES = "IEC 62055-41:2014 7.3.7 TID validation"


def credited(dut, token):
    before = dut.credit()
    result = dut.enter(token)
    return result, dut.credit() - before


@pytest.mark.clause("IEC 62055-31:2022 supply control switch: interrupt when credit is "
                    "exhausted", "declared: relay.disconnect_credit_kwh")
def test_no_supply_without_credit_as_found(dut, profile, record):
    """The plan's first test sees the meter as the run found it, before any token: with no
    credit above the declared disconnect level its relay must be open, whatever it did at
    power-up (a meter that closes its relay at start-up until the first token is entered
    gives free energy). A meter found with credit has nothing to show here."""
    credit = float(dut.credit())
    level = float(profile.relay.disconnect_credit_kwh)
    if credit > level:
        not_applicable(f"the meter was found with {credit:g} kWh of credit, above the "
                       f"declared disconnect level {level:g} kWh: it may supply")
    record("credit as found", credit, "kWh", high=level, fact="credit")
    record("relay open with no credit, as found", int(not dut.relay_closed()), nominal=1,
           fact="relay_closed")


@pytest.mark.clause(ACCEPT, "IEC 62055-41:2014 6.3.6.2 TransferAmount rounding",
                    "SPLN D3.009-1:2010 token entry (BENAR)")
@pytest.mark.faults("credit-rounding")
def test_credit_added_exactly(dut, vendor, record):
    token = vendor.credit("12.3")
    result, added = credited(dut, token)
    record_outcome(record, "outcome", result, "ACCEPT")
    record("display", result.display, nominal=dut.shown("BENAR"), fact="display_text")
    amount = Decimal(token.fields["amount"])
    record("credit added", float(added), "kWh", expected=float(amount),
           tolerance=CREDIT_EXACT, fact="credit")


@pytest.mark.clause(ACCEPT, "IEC 62055-41:2014 6.3.6.2 TransferAmount rounding")
@pytest.mark.faults("credit-rounding")
def test_amount_rounded_in_favour_of_customer(dut, vendor, record):
    # 163.85 kWh is not a multiple of the 0.1 kWh unit: the vendor rounds up in favour of
    # the customer to 163.9, and the meter must credit exactly the encoded amount.
    dut.enter(vendor.clear_credit(0))
    token = vendor.credit("163.85")
    encoded = Decimal(token.fields["amount"])
    record("encoded amount", float(encoded), "kWh", nominal=163.9)
    result, added = credited(dut, token)
    record_outcome(record, "outcome", result, "ACCEPT")
    record("credit added", float(added), "kWh", expected=float(encoded),
           tolerance=CREDIT_EXACT, fact="credit")


@pytest.mark.clause(TID_RULES + " (UsedError)", "SPLN D3.009-1:2010 token entry (USED)")
@pytest.mark.faults("accept-used")
def test_used_token_refused(dut, vendor, record):
    token = vendor.credit("1.0")
    first, _ = credited(dut, token)
    record_outcome(record, "first entry", first, "ACCEPT")
    again, added = credited(dut, token)
    record_outcome(record, "second entry", again, "USED")
    record("display", again.display, nominal=dut.shown("USED"), fact="display_text")
    record("credit added by the replay", float(added), "kWh", expected=0.0,
           tolerance=CREDIT_EXACT, fact="credit")


@pytest.mark.clause(TID_RULES + " (OldError)", "SPLN D3.009-1:2010 token entry (USANG)",
                    "declared: tokens.tid_store_depth")
@pytest.mark.faults("ignore-old", "short-tid-store")
def test_tid_store_depth_and_old_token(dut, vendor, profile, record):
    depth = profile.tokens.tid_store_depth
    oldest = vendor.credit("0.1")
    record_outcome(record, "oldest token", dut.enter(oldest), "ACCEPT")
    never_used = vendor.credit("0.1")  # vended now, entered after `depth` newer ones
    inside = vendor.credit("0.1")  # vended now, entered once the store is full
    for _ in range(depth - 1):
        assert dut.enter(vendor.credit("0.1")).accepted
    kept, added0 = credited(dut, oldest)  # the store is full, the oldest TID still in it
    record_outcome(record, f"oldest token after {depth - 1} newer ones (still stored)", kept,
                   "USED")
    # a token entered out of order: its TID is above the smallest of the full store (the
    # oldest token's), so it is taken, and it pushes the oldest out
    record_outcome(record, "an unused token vended before the newer ones (its TID above the "
                   "full store's smallest)", dut.enter(inside), "ACCEPT")
    replay, added = credited(dut, oldest)
    record_outcome(record, f"oldest token after {depth} newer ones (the last out of order)",
                   replay, "OLD")
    record("display", replay.display, nominal=dut.shown("USANG"), fact="display_text")
    late, added2 = credited(dut, never_used)
    record_outcome(record, "unused token older than the whole store", late, "OLD")
    record("credit added by refused tokens", float(added0 + added + added2),
           "kWh", expected=0.0, tolerance=CREDIT_EXACT, fact="credit")


@pytest.mark.clause("IEC 62055-41:2014 7.3.6 authentication (CRCError)",
                    "SPLN D3.009-1:2010 token entry (GAGAL)")
def test_wrong_meter_and_mistyped_tokens_refused(dut, vendor, record):
    other_pan = "600727000000000009"
    other = vendor.with_key(vendor.derive(pan=other_pan), pan=other_pan)
    wrong, added = credited(dut, other.credit("5"))
    record_outcome(record, "token for another meter", wrong, "CRC_ERROR")
    record("display", wrong.display, nominal=dut.shown("GAGAL"), fact="display_text")
    good = vendor.credit("5").digits
    typo = good[:7] + str((int(good[7]) + 1) % 10) + good[8:]
    mistyped, added2 = credited(dut, typo)
    record("mistyped token", mistyped.seen)
    record("mistyped token refused", int(not mistyped.accepted), nominal=1)
    record("credit added by refused tokens", float(added + added2), "kWh",
           expected=0.0, tolerance=CREDIT_EXACT, fact="credit")


@pytest.mark.clause("SPLN D3.009-1:2010 maximum credit (OVER)", "declared: tokens.max_credit_kwh")
@pytest.mark.faults("max-credit-short")
def test_overflow_refused(dut, vendor, profile, record):
    """Credit up to half a kWh below the declared maximum is taken; past it, OVER. The credit
    the meter had goes back afterwards."""
    maximum = Decimal(str(profile.tokens.max_credit_kwh))
    had = dut.credit()
    try:
        fill = (maximum - had - Decimal("0.5")).quantize(Decimal("0.1"), rounding="ROUND_DOWN")
        near, added = credited(dut, vendor.credit(str(fill)))
        record_outcome(record, f"credit to {float(had + fill):g} kWh (max {maximum} kWh)", near,
                       "ACCEPT")
        room = maximum - dut.credit()
        token = vendor.credit(str((room + 10).quantize(Decimal("0.1"))))
        result, added = credited(dut, token)
        record_outcome(record, "outcome past the maximum", result, "OVERFLOW")
        record("display", result.display, nominal=dut.shown("OVER"), fact="display_text")
        record("credit added", float(added), "kWh", expected=0.0, tolerance=CREDIT_EXACT,
               fact="credit")
    finally:
        assert dut.enter(vendor.clear_credit(0)).accepted
        if had >= Decimal("0.1"):
            assert dut.enter(vendor.credit(str(had.quantize(Decimal("0.1"))))).accepted


@pytest.mark.clause(TID_RULES + " several tokens in one minute",
                    "IEC 62055-41:2014 6.3.5 TokenIdentifier")
def test_several_tokens_in_one_minute(dut, vendor, record):
    minute = datetime.now().replace(second=0, microsecond=0) + timedelta(minutes=2)
    tokens = [vendor.credit("0.5", at=minute) for _ in range(3)]
    tids = [t.fields["tid"] for t in tokens]
    record("TIDs strictly increasing", int(tids == sorted(set(tids))), nominal=1)
    for i, token in enumerate(tokens):
        record_outcome(record, f"token {i + 1} of the minute", dut.enter(token), "ACCEPT")


@pytest.mark.clause("IEC 62055-41:2014 8.2 credit subclasses", "declared: tokens.credit_subclasses")
def test_unsupported_subclass_refused(dut, vendor, profile, record):
    unsupported = [s for s in range(4) if s not in profile.tokens.credit_subclasses]
    if not unsupported:
        not_applicable("the meter declares every credit subclass")
    result, added = credited(dut, vendor.credit("1.0", subclass=unsupported[0]))
    record_outcome(record, f"subclass {unsupported[0]} token", result, "FUNCTION_ERROR")
    record("credit added", float(added), "kWh", expected=0.0, tolerance=CREDIT_EXACT,
           fact="credit")
