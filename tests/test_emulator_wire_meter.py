"""The emulated meter seen through its wires only: tokens typed on the keypad injector's pty,
results read on the optical port's pty, the supply, load and scope over SCPI sockets.

Each test starts `python -m emulator` (the `start_emulator` fixture) at a high clock speed.
"""

from __future__ import annotations

import time
from datetime import datetime

import pytest
from emulator_wire_support import EMULATED_BENCH, WireBench, WireTimeout, bench_keys, bench_vendor

import sts

OTHER_KEY = bytes.fromhex("0123456789abcdef")


@pytest.fixture
def wire(start_emulator):
    opened: list[WireBench] = []

    def open_bench(*args: str) -> WireBench:
        bench = WireBench(start_emulator(*args))
        opened.append(bench)
        return bench

    yield open_bench
    for bench in opened:
        bench.close()


def test_token_outcomes_and_displays(wire):
    b = wire("--speed", "1000")
    vendor = bench_vendor()
    token = vendor.credit(0, "12.5")
    assert b.enter(token) == ("ACCEPT", "BENAR")
    assert b.optical.reg("C.50.0") == "12.500"
    assert b.optical.reg("C.52.1") == token.digits
    assert b.keypad.ok("LAST? 21") == [token.digits + "#"]
    assert b.enter(token) == ("USED", "USED")
    assert b.enter(sts.Vendor(OTHER_KEY, base_date=2014).credit(0, "1")) == ("CRC_ERROR",
                                                                              "GAGAL")
    assert b.enter("1" * 19) == ("FORMAT_ERROR", "GAGAL")
    assert b.enter(sts.test_token(1 << 9, mfr_code=12)) == ("MFR_CODE_ERROR", "GAGAL")
    assert b.enter(vendor.credit(0, "930")) == ("OVERFLOW", "OVER")
    assert b.optical.reg("C.50.0") == "12.500"  # nothing of the refused tokens was added
    assert b.enter("41") == ("ACCEPT", "230.0 V")
    assert b.enter("37") == ("ACCEPT", "12.50 kWh")
    assert b.enter("75") == ("ACCEPT", bench_keys()["pan"][6:17])
    assert int(b.optical.reg("C.52.2")) == 9


def test_old_token_refused_after_the_tid_store_fills(wire):
    b = wire("--speed", "2000")
    vendor = bench_vendor()
    old = vendor.credit(0, "1", at=datetime(2020, 1, 1))
    keys = "#".join(vendor.credit(0, "0.1").digits for _ in range(20)) + "#"
    b.type(keys, 5, 5)  # 20 tokens in one TYPE
    assert b.optical.reg("C.52.2") == "20" and b.optical.reg("C.52.0") == "ACCEPT"
    assert b.enter(old) == ("OLD", "USANG")


def test_key_expired_and_key_change(wire, tmp_path):
    bench = tmp_path / "ken1.toml"
    bench.write_text(EMULATED_BENCH.read_text().replace("ken = 255", "ken = 1"))
    b = wire("--speed", "1000", "--bench", str(bench))
    vendor = bench_vendor()
    assert b.enter(vendor.credit(0, "1")) == ("KEY_EXPIRED", "GAGAL")
    assert b.optical.reg("C.53.4") == "1"
    new_key = bytes.fromhex("1122334455667788")
    sections = vendor.key_change(new_key, new_kt=2, new_krn=2, new_ti="01")
    assert b.enter(sections[0]) == ("KCT_HELD", "KCT 1")
    assert b.enter(sections[1]) == ("ACCEPT", "BENAR")
    assert (b.optical.reg("C.53.0"), b.optical.reg("C.53.4")) == ("2", "255")
    fresh = sts.Vendor(new_key, base_date=2014)
    assert b.enter(fresh.credit(0, "2")) == ("ACCEPT", "BENAR")
    assert b.optical.reg("C.50.0") == "2.000"


def test_lockout_after_three_refusals_then_released(wire):
    b = wire("--speed", "5")  # lock-out 10 s bench = 2 s here
    vendor = bench_vendor()
    wrong = sts.Vendor(OTHER_KEY, base_date=2014)
    for _ in range(3):
        assert b.enter(wrong.credit(0, "1"), press_ms=2, gap_ms=2)[0] == "CRC_ERROR"
    assert b.optical.number("C.58.0") > 0
    assert b.enter(vendor.credit(0, "1"), press_ms=2, gap_ms=2) == ("LOCKED", "BLOKIR")
    assert b.enter("41", press_ms=2, gap_ms=2) == ("ACCEPT", "230.0 V")  # codes still work
    until = b.optical.number("C.58.2")
    while float(b.keypad.ok("TIME?")[0]) < until:
        time.sleep(0.05)
    assert b.enter(vendor.credit(0, "1"), press_ms=2, gap_ms=2) == ("ACCEPT", "BENAR")
    assert b.optical.reg("C.58.1") == "0"


def test_tamper_refuses_credit_until_cleared(wire):
    b = wire("--speed", "1000")
    vendor = bench_vendor()
    assert b.enter(vendor.credit(0, "5"))[0] == "ACCEPT"
    load = b.scpi["load"]
    load.write("CURR 1")
    load.write("LOAD ON")
    switch = b.scpi["switch"]  # its channel 101 connects the earth-leak resistor (~1 A)
    switch.write("ROUT:CLOS (@101)")
    assert load.error().startswith("0,") and switch.error().startswith("0,")
    assert b.optical.reg("C.54.0") == "1"
    assert b.enter(vendor.credit(0, "1")) == ("TAMPER", "PERIKSA")
    assert b.enter(vendor.clear_tamper()) == ("ACCEPT", "BENAR")
    switch.write("ROUT:OPEN (@101)")
    assert b.optical.reg("C.54.0") == "0"
    assert b.enter(vendor.credit(0, "1")) == ("ACCEPT", "BENAR")


def test_credit_runs_down_under_load_until_the_relay_opens(wire):
    b = wire("--speed", "300")  # 360 s of bench time in 1.2 s: time for the checks under load
    assert b.enter(bench_vendor().credit(0, "0.1"))[0] == "ACCEPT"
    b.wait_for("C.51.0", "1")
    energy0 = b.optical.number("1.8.0")
    load, dmm = b.scpi["load"], b.scpi["dmm"]
    load.write("MODE POW")
    load.write("POW 1000")
    t0 = float(b.keypad.ok("TIME?")[0])
    load.write("LOAD ON")
    # a write is not awaited: the load's answer to a query on the same link says it was done
    assert load.number("MEAS:POW?") == pytest.approx(1000.0)
    t1 = float(b.keypad.ok("TIME?")[0])
    b.wait_for("C.51.0", "0")  # 0.1 kWh at 1 kW: 360 s bench, 1.2 s here
    assert b.optical.reg("C.51.3") == "CREDIT"
    assert b.optical.reg("C.50.0") == "0.000"
    assert b.optical.number("1.8.0") - energy0 == pytest.approx(0.1, abs=0.0005)
    # the meter commanded the relay open exactly when 0.1 kWh had been drawn
    assert t0 + 360.0 <= b.optical.number("C.51.4") <= t1 + 360.0
    assert dmm.number("MEAS:VOLT:AC?") == 0.0
    assert load.number("MEAS:CURR?") == 0.0
    assert b.scpi["source"].number("MEAS:VOLT?") == pytest.approx(230.0, abs=0.5)


def test_relay_test_edge_seen_by_the_scope_at_the_set_delay(wire):
    b = wire("--speed", "20")
    assert b.enter(bench_vendor().credit(0, "5"))[0] == "ACCEPT"
    b.wait_for("C.51.0", "1")
    scope = b.scpi["scope"]
    # the generic scope speaks the InfiniiVision's set: the supply gone is a pattern trigger
    # (CH1 low: within +/-50 V) with the Timeout qualifier, firing 20 ms after it went quiet
    for line in (":TIM:SCAL 0.05", ":TRIG:MODE PATT", ":TRIG:LEV 50,CHAN1", ':TRIG:PATT "0X"',
                 ":TRIG:PATT:QUAL TIM", ":TRIG:PATT:GRE 0.02", ":SING"):
        scope.write(line)
    assert scope.query(":TER?") == "+0"
    _t_first, t_enter = b.type("01#", press_ms=65, gap_ms=100)
    end = time.monotonic() + 5
    while scope.query(":TER?") != "+1":  # the trigger event register clears on the read
        assert time.monotonic() < end, "the scope never triggered"
        time.sleep(0.01)
    # the trigger point on the bench clock: ENTER pressed plus the scope's delay from it; the
    # supply went quiet the timeout before it
    trigger = t_enter + scope.number(":MEAS:DEL? CHAN2,CHAN1")
    quiet = trigger - 0.02
    commanded = b.optical.number("C.51.2")
    contact = b.optical.number("C.51.1")
    assert b.optical.reg("C.51.3") == "TEST"
    # the meter acts on ENTER's release (C.51.2 carries 6 decimals: equal may round below)
    assert commanded >= t_enter + 0.065 - 1e-6
    assert 0.020 - 1e-6 <= contact - commanded <= 0.040 + 1e-6  # operate 30 +/- 10 ms
    # the last instant the dying sine was beyond +/-50 V, just before the contact opened
    assert -1e-6 <= contact - quiet <= 0.0005  # C.51.1 carries 6 decimals
    for generic_only in (":TRIG:TIME?", ":TRIG:TYPE DROP", ":TRIG:DROP:TIME 0.05"):
        scope.write(generic_only)  # no real scope has these: not in the set
        assert scope.error() == '-113,"Undefined header"'
    held = scope.number(":MEAS:PWID? CHAN2")  # the ENTER sync pulse, as long as ENTER was down
    assert 0.065 - 1e-6 <= held < commanded - t_enter + 1e-6
    for line in (":WAV:SOUR CHAN1", ":WAV:FORM ASC", ":WAV:POIN 1001"):
        scope.write(line)
    fields = scope.query(":WAV:PRE?").split(",")
    assert len(fields) == 10  # format, type, points, count, x inc, x origin, x ref, y ...
    assert (int(fields[2]), float(fields[4]), float(fields[5])) == \
        (1001, pytest.approx(5e-4), pytest.approx(-0.25))
    block = scope.query(":WAV:DATA?")  # IEEE 488.2 definite length: #<n><length><values>
    digits = int(block[1])
    payload = block[2 + digits:]
    assert block[0] == "#" and int(block[2:2 + digits]) == len(payload)
    volts = [float(v) for v in payload.split(",")]
    assert len(volts) == 1001  # the trigger point at 500, the supply quiet 40 points before
    # 0.5 ms a point: the sampled crest within 0.4 % of the 230 V sine's
    assert max(abs(v) for v in volts[:450]) == pytest.approx(230 * 2 ** 0.5, rel=0.004)
    assert max(abs(v) for v in volts[461:]) <= 50.0  # dying below the level
    assert max(abs(v) for v in volts[462:]) == 0.0  # the contact is open
    b.wait_for("C.51.0", "1")  # the relay recloses after the 5 s test


def test_power_cycle_keeps_credit_and_the_tid_store(wire):
    b = wire("--speed", "1000")
    token = bench_vendor().credit(0, "3")
    assert b.enter(token)[0] == "ACCEPT"
    source = b.scpi["source"]
    source.write("OUTP OFF")
    assert source.query("OUTP?") == "0"
    b.optical.timeout = 0.5
    with pytest.raises(WireTimeout) as silence:  # no supply, no optical port
        b.optical.sign_on()
    assert silence.value.received == b""
    b.optical.timeout = 5.0  # room for a loaded machine: the sign-on is paced at 300 baud
    b.type("41#")  # keys of a dead meter do nothing
    source.write("OUTP ON")
    for attempt in range(3):  # a client sends the sign-on again when the meter stays silent
        try:
            b.optical.sign_on()
            break
        except WireTimeout:
            assert attempt < 2, "the meter never answered a sign-on after its supply returned"
    assert b.optical.reg("C.50.0") == "3.000"
    assert b.optical.reg("C.59.0") == "1"
    assert b.optical.reg("C.52.2") == "1"
    assert b.enter(token) == ("USED", "USED")


def test_state_file_keeps_the_meter_across_restarts(start_emulator):
    emu = start_emulator("--speed", "1000")
    b = WireBench(emu)
    try:
        assert b.enter(bench_vendor().credit(0, "4.3"))[0] == "ACCEPT"  # 0.1 kWh steps
    finally:
        b.close()
    assert emu.stop() == 0
    again = WireBench(start_emulator("--speed", "1000"))
    try:
        assert again.optical.reg("C.50.0") == "4.300"
        assert again.optical.reg("C.52.2") == "1"
    finally:
        again.close()
