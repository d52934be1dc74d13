"""Key change (IEC 62055-41 class 2 subclasses 3/4): sets, orders, rollover, expiry, wrong keys.

The tests run in order on one meter and hand the key on from one to the next; the module's
fixture puts the bench's own key back at the end (with the rollover bit, so the TID store
starts afresh for the plans that follow).
"""

from datetime import datetime, timedelta

import pytest

from rig.meter.under_test import record_outcome
from rig.record.measures import CREDIT_EXACT

KCT = "IEC 62055-41:2014 6.3.14-6.3.17 key change tokens"
ROLLOVER = "IEC 62055-41:2018 TID rollover: key change with RO and a new base date"
EXPIRY = "IEC 62055-41:2014 7.3.7 key expiry number (KeyExpiredError)"


class KeyChain:
    """The key the meter holds now, as a vendor."""

    def __init__(self, vendor):
        self.bench = vendor
        self.current = vendor

    def change(self, dut, new_vendor, *, krn, order=(0, 1), rollover=False, ken=255):
        tokens = self.current.key_change(new_vendor.decoder_key, new_kt=2, new_krn=krn,
                                         new_ti="01", new_ken=ken, rollover=rollover)
        results = [dut.enter(tokens[i]) for i in order]
        if results[-1].accepted:
            self.current = new_vendor
        return results


KEY_RESTORE = {}  # the last test's meter under test, to put the bench key back with


@pytest.fixture(autouse=True)
def _remember_dut(dut):
    KEY_RESTORE["dut"] = dut


@pytest.fixture(scope="module")
def chain(vendor, bench, profile):
    """The meter's current key; afterwards the bench's own key goes back in (RO set)."""
    keys = KeyChain(vendor)
    yield keys
    if keys.current is not vendor:
        keys.change(KEY_RESTORE["dut"], vendor, krn=1, rollover=True)


@pytest.mark.clause(KCT + " (2-token set, either order)", "IEC 62055-41:2014 8.2 key change")
@pytest.mark.faults("kct-loses-credit")
def test_two_token_set_both_orders(dut, chain, record):
    if dut.credit() < 1:
        assert dut.enter(chain.current.credit("5")).accepted
    credit = float(dut.credit())
    k2 = chain.bench.with_key(chain.bench.derive(krn=2))
    first, second = chain.change(dut, k2, krn=2, order=(1, 0))
    record_outcome(record, "2nd section first", first, "KCT_HELD")
    record_outcome(record, "1st section second", second, "ACCEPT")
    record("credit kept through the key change", float(dut.credit()),
           "kWh", expected=credit, tolerance=CREDIT_EXACT, fact="credit")
    record("key revision", dut.fact("key_revision"), nominal=2.0, fact="key_revision")
    k3 = chain.bench.with_key(chain.bench.derive(krn=3))
    first, second = chain.change(dut, k3, krn=3, order=(0, 1))
    record_outcome(record, "1st section first", first, "KCT_HELD")
    record_outcome(record, "2nd section second", second, "ACCEPT")
    record("key revision", dut.fact("key_revision"), nominal=3.0, fact="key_revision")
    record_outcome(record, "credit token under the new key", dut.enter(k3.credit("0.5")),
                   "ACCEPT")
    record_outcome(record, "credit token under the old key", dut.enter(k2.credit("0.5")),
                   "CRC_ERROR")


@pytest.mark.clause(KCT + " authentication of key change sections",
                    "IEC 62055-41:2014 7.3.6 authentication")
@pytest.mark.faults("kct-wrong-key")
def test_section_under_wrong_key_refused(dut, chain, record):
    previous = chain.bench.with_key(chain.bench.derive(krn=2))  # the key before the last
    target = chain.bench.with_key(chain.bench.derive(krn=6))
    stale = previous.key_change(target.decoder_key, new_kt=2, new_krn=6, new_ti="01")
    record_outcome(record, "section 1 under the previous key", dut.enter(stale[0]),
                   "CRC_ERROR")
    record_outcome(record, "section 2 under the previous key", dut.enter(stale[1]),
                   "CRC_ERROR")
    stranger = chain.bench.with_key(bytes(8))
    forged = stranger.key_change(target.decoder_key, new_kt=2, new_krn=6, new_ti="01")
    record_outcome(record, "section under an unrelated key", dut.enter(forged[0]),
                   "CRC_ERROR")
    record("key revision unchanged", dut.fact("key_revision"),
           nominal=3.0, fact="key_revision")


@pytest.mark.clause(ROLLOVER, "IEC 62055-41:2014 6.3.5 base dates 1993/2014",
                    "declared: tokens.tid_store_depth")
def test_tid_rollover_with_new_base_date(dut, chain, profile, record):
    # the meter on a 1993-base key, its TID store full of tokens from just before the
    # 1993 base rolled over (2024-11-24 20:15)
    k93 = chain.bench.with_key(chain.bench.derive(krn=4), base_date=1993)
    assert chain.change(dut, k93, krn=4)[-1].accepted
    start = datetime(2024, 11, 24, 19, 30)
    for i in range(profile.tokens.tid_store_depth):
        assert dut.enter(k93.credit("0.1", at=start + timedelta(minutes=i))).accepted
    after = k93.with_key(k93.decoder_key, base_date=2014)
    record_outcome(record, "2014-base token before the rollover key change",
                   dut.enter(after.credit("0.1")), "OLD")
    k14 = chain.bench.with_key(chain.bench.derive(krn=5), base_date=2014)
    results = chain.change(dut, k14, krn=5, rollover=True)
    record_outcome(record, "key change set with the rollover bit", results[-1], "ACCEPT")
    record_outcome(record, "2014-base token after the rollover key change",
                   dut.enter(k14.credit("0.1")), "ACCEPT")


@pytest.mark.clause(EXPIRY, "IEC 62055-41:2014 6.3.14 KENHO/KENLO")
@pytest.mark.faults("ignore-key-expiry")
def test_key_expiry(dut, chain, record):
    # from a state set up here, whatever the test before left (a failed rollover test leaves
    # a key on the 1993 base, whose TIDs today are past the range, and a TID store full of
    # them): a key of this test's own on the bench's base date, the TID store started afresh
    own = chain.bench.with_key(chain.bench.derive(krn=6))
    start = chain.change(dut, own, krn=6, rollover=True)
    assert start[-1].accepted, f"the key change that sets this test up was refused: {start}"
    probe = chain.current.credit("0.1")
    high_byte = probe.fields["tid"] >> 16
    assert dut.enter(probe).accepted
    k7 = chain.bench.with_key(chain.bench.derive(krn=7))
    results = chain.change(dut, k7, krn=7, ken=high_byte - 1)
    record_outcome(record, "key change with KEN below today's TIDs", results[-1], "ACCEPT")
    if dut.offers("key_expiry"):
        record("key expiry number", dut.fact("key_expiry"),
               nominal=float(high_byte - 1), fact="key_expiry")
    expired = dut.enter(k7.credit("0.1"))
    record_outcome(record, "credit token past the KEN", expired, "KEY_EXPIRED")
    k8 = chain.bench.with_key(chain.bench.derive(krn=8))
    results = chain.change(dut, k8, krn=8, ken=255)
    record_outcome(record, "key change tokens are not subject to the KEN", results[-1],
                   "ACCEPT")
    record_outcome(record, "credit token after the KEN is lifted", dut.enter(k8.credit("0.1")),
                   "ACCEPT")
