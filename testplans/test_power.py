"""Power: what the meter keeps through a power cycle, and a token typed across one."""

import pytest

NV = "IEC 62055-31:2022 non-volatile registers through supply interruptions"


@pytest.mark.clause(NV, "SPLN D3.009-1:2010 credit retained on power loss")
@pytest.mark.faults("volatile-credit")
def test_state_survives_power_cycle(dut, vendor, record):
    token = vendor.credit("3.0")
    record("credit token", dut.enter(token).outcome, nominal="ACCEPT")
    credit = float(dut.credit())
    krn, sgc = dut.register("C.53.0"), dut.register("C.53.3")
    outages = dut.number("C.59.0")
    dut.power_cycle(off_s=5.0)
    record("credit after the power cycle", float(dut.credit()), "kWh", credit - 0.001,
           credit + 0.001)
    record("key revision after the power cycle", dut.register("C.53.0"), nominal=krn)
    record("supply group after the power cycle", dut.register("C.53.3"), nominal=sgc)
    record("outage counted", dut.number("C.59.0") - outages, nominal=1.0)
    record("token replayed after the cycle (TID store kept)", dut.enter(token).outcome,
           nominal="USED")


@pytest.mark.clause(NV + " (half-typed token)", "SPLN D3.009-1:2010 keypad token entry")
def test_token_typed_across_power_loss(dut, vendor, record):
    token = vendor.credit("1.0")
    credit = dut.credit()
    dut.keys(token.digits[:10])
    dut.power_cycle(off_s=2.0)
    before = dut.register("C.52.2")
    dut.keys(token.digits[10:] + "#")
    dut.wait_until(lambda: dut.register("C.52.2") != before, 30, 0.2)
    record("second half after the power cycle", dut.register("C.52.0"), nominal="FORMAT_ERROR")
    record("credit untouched", float(dut.credit() - credit), "kWh", -0.0005, 0.0005)
    record("the whole token afterwards", dut.enter(token).outcome, nominal="ACCEPT")
