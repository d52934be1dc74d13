"""Power: what the meter keeps through a power cycle, and a token typed across one."""

import pytest

from rig.meter.under_test import record_outcome
from rig.record.measures import CREDIT_EXACT

NV = "IEC 62055-31:2022 non-volatile registers through supply interruptions"


@pytest.mark.clause(NV, "SPLN D3.009-1:2010 credit retained on power loss")
@pytest.mark.faults("volatile-credit")
def test_state_survives_power_cycle(dut, vendor, record):
    token = vendor.credit("3.0")
    record_outcome(record, "credit token", dut.enter(token), "ACCEPT")
    credit = float(dut.credit())
    kept = {name: dut.fact(name) for name in ("key_revision", "supply_group", "outages")
            if dut.offers(name)}
    dut.power_cycle(off_s=5.0)
    record("credit after the power cycle", float(dut.credit()), "kWh",
           credit - 0.001, credit + 0.001, fact="credit")
    if "key_revision" in kept:
        record("key revision after the power cycle",
               dut.fact("key_revision"), nominal=kept["key_revision"], fact="key_revision")
    if "supply_group" in kept:
        record("supply group after the power cycle",
               dut.fact("supply_group"), nominal=kept["supply_group"], fact="supply_group")
    if "outages" in kept:
        record("outage counted", dut.fact("outages") - kept["outages"],
               nominal=1.0, fact="outages")
    record_outcome(record, "token replayed after the cycle (TID store kept)", dut.enter(token),
                   "USED")


@pytest.mark.clause(NV + " (half-typed token)", "SPLN D3.009-1:2010 keypad token entry")
def test_token_typed_across_power_loss(dut, vendor, record):
    token = vendor.credit("1.0")
    credit = dut.credit()
    dut.keys(token.digits[:10])
    dut.power_cycle(off_s=2.0)
    rest = dut.entry(token.digits[10:] + "#")
    record_outcome(record, "second half after the power cycle", rest, "FORMAT_ERROR")
    record("credit untouched", float(dut.credit() - credit), "kWh",
           expected=0.0, tolerance=CREDIT_EXACT, fact="credit")
    record_outcome(record, "the whole token afterwards", dut.enter(token), "ACCEPT")


@pytest.mark.clause(NV + " (a supply at 2 % of rated)",
                    "EN 50160 supply interruption: below 5 % of the reference voltage")
def test_supply_at_two_percent_is_an_interruption(dut, vendor, record):
    """The source left on but at 2 % of the rated voltage (4.6 V on 230 V) is a supply
    interruption by the power-quality standards' own threshold (5 %), and no meter's
    electronics run on it: a half-typed token is lost as across a power cut, the credit is
    kept, and an outage is counted where the meter counts them."""
    token = vendor.credit("1.0")
    credit = dut.credit()
    outages = dut.fact("outages") if dut.offers("outages") else None
    dut.keys(token.digits[:10])
    dut.sag(0.02, 3.0)
    rest = dut.entry(token.digits[10:] + "#")
    record_outcome(record, "second half after 3 s at 2 % of rated", rest, "FORMAT_ERROR")
    record("credit untouched", float(dut.credit() - credit), "kWh",
           expected=0.0, tolerance=CREDIT_EXACT, fact="credit")
    if outages is not None:
        record("outage counted", dut.fact("outages") - outages, nominal=1.0, fact="outages")
