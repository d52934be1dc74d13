"""The 128-bit key change (IEC 62055-41 6.3.14-6.3.17, the 4-token set to an EA11 key).

What the meter must do depends on what its maker declares (`tokens.key_change_128bit`):
- true: it takes the 4 sections in any order and from then on decrypts under the new
  128-bit key (EA11, MISTY1). A meter cannot go back from EA11 to a 64-bit key, so the test
  leaves a meter of a 64-bit bench key on the new key: it runs after every other test
  (`irreversible`), and says in the run's log which key the meter now holds (DKGA04, EA11, the
  KRN below; never the key itself), so the lab can write it into the bench file. A bench
  whose key is already EA11 gets its own key back at the end.
- false: the meter takes 64-bit keys only, and a 4th section (subclass 9, which only a
  128-bit set has) is refused as a function it does not support. It is the only section
  entered, so nothing is held afterwards.
One test does either, as declared (unset: skipped, naming the declaration).
"""

import logging

import pytest

from rig.meter.under_test import record_outcome
from rig.meter.vendor import VendingKeyError
from rig.record.measures import CREDIT_EXACT

LOG = logging.getLogger(__name__)
KCT = "IEC 62055-41:2014 6.3.14-6.3.17 key change tokens"
#: the key revision the meter is moved to (the key change plans use 2..8)
EA11_KRN = 9
#: sections entered 4th, 1st, 3rd, 2nd: a set in any order, the 128-bit sections first
ORDER = (3, 0, 2, 1)


def _ea11_vendor(vendor):
    try:
        key = vendor.wide_key(krn=EA11_KRN)
    except VendingKeyError as exc:
        pytest.skip(f"no 128-bit key for the meter: {exc}")
    return vendor.with_key(key, ea="11")


@pytest.mark.clause(KCT + " 128-bit key (EA11): the 4-token set, or the 4th section refused",
                    "IEC 62055-41:2014 7.3.6 function not supported",
                    "declared: tokens.key_change_128bit")
@pytest.mark.irreversible("a meter on a 128-bit key cannot be changed back to a 64-bit key")
def test_128bit_key_change_as_declared(dut, vendor, profile, record):
    declared = profile.tokens.key_change_128bit
    if declared is None:
        pytest.skip("the profile does not declare tokens.key_change_128bit (whether the "
                    "meter takes a 128-bit EA11 key change)")
    ea11 = _ea11_vendor(vendor)
    sections = vendor.key_change(ea11.decoder_key, new_kt=2, new_krn=EA11_KRN, new_ti="01",
                                 new_ea="11")
    assert len(sections) == 4, f"the vendor made a set of {len(sections)} sections, not 4"
    if declared:
        _migrate(dut, vendor, ea11, sections, record)
    else:
        record_outcome(record, "4th section of a 128-bit key change set",
                       dut.enter(sections[3]), "FUNCTION_ERROR")
        record_outcome(record, "credit token under the bench key after it",
                       dut.enter(vendor.credit("0.5")), "ACCEPT")


def _migrate(dut, vendor, ea11, sections, record) -> None:
    """The 4 sections in the order of ORDER, then the new key in use and the old one not."""
    if dut.credit() < 1:
        assert dut.enter(vendor.credit("5")).accepted
    credit = float(dut.credit())
    results = [dut.enter(sections[i]) for i in ORDER]
    for i, result in zip(ORDER[:-1], results[:-1], strict=True):
        record_outcome(record, f"section {i + 1} of 4, held", result, "KCT_HELD")
    record_outcome(record, f"section {ORDER[-1] + 1} of 4, the set complete", results[-1],
                   "ACCEPT")
    record("credit kept through the key change", float(dut.credit()),
           "kWh", expected=credit, tolerance=CREDIT_EXACT, fact="credit")
    if dut.offers("key_revision"):
        record("key revision", dut.fact("key_revision"), nominal=float(EA11_KRN),
               fact="key_revision")
    record_outcome(record, "credit token under the 128-bit key (EA11)",
                   dut.enter(ea11.credit("0.5")), "ACCEPT")
    record_outcome(record, "credit token under the 64-bit key before it",
                   dut.enter(vendor.credit("0.5")), "CRC_ERROR")
    if vendor.ea == "11":  # the bench's own key is EA11 too: it goes back in
        back = ea11.key_change(vendor.decoder_key, new_kt=vendor.kt, new_krn=1, new_ti="01",
                               new_ea="11", rollover=True)
        restored = [dut.enter(token) for token in back]
        record_outcome(record, "the bench's own key back (4-token set)", restored[-1], "ACCEPT")
    elif results[-1].accepted:
        LOG.warning("the meter now holds the DKGA04 EA11 key of key revision %d (from the "
                    "bench's vending key): set [meter.keys] dkga = \"04\", ea = \"11\", "
                    "krn = %d in the bench file for its next run", EA11_KRN, EA11_KRN)
