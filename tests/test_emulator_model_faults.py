"""Each emulator fault (CONTRACTS §3.1) visibly changes the meter's behaviour; the clean
meter's side of each comparison is asserted here too."""

from __future__ import annotations

import dataclasses
from datetime import datetime
from pathlib import Path

import pytest
from emulator_support import Bench

import sts
from emulator.faults import FAULTS, check_faults
from emulator.setup import MeterSetup

ROOT = Path(__file__).resolve().parent.parent


def test_fault_list_is_the_contracts():
    # the first ten; the faults of issue 12 follow (tests/test_emulator_faults_new.py)
    assert list(FAULTS)[:10] == [
        "accept-used", "ignore-old", "ignore-key-expiry", "credit-rounding", "late-relay",
        "no-reconnect", "no-lockout", "volatile-credit", "bad-bcc", "kct-wrong-key"]
    contracts = (ROOT / "docs" / "CONTRACTS.md").read_text()
    assert all(f"| `{name}` | {text} |" in contracts for name, text in list(FAULTS.items())[10:])
    assert all(text and "\n" not in text for text in FAULTS.values())


def test_unknown_fault_names_the_known_ones():
    assert check_faults(["late-relay"]) == frozenset({"late-relay"})
    with pytest.raises(ValueError, match=r"unknown fault 'late-relais'.*accept-used.*bad-bcc"):
        check_faults(["late-relay", "late-relais"])
    with pytest.raises(ValueError, match="unknown fault"):
        Bench(faults=("nonsense",))


@pytest.mark.parametrize(("faults", "second"), [((), "USED"), (("accept-used",), "ACCEPT")])
def test_accept_used(faults, second):
    bench = Bench(faults=faults)
    token = bench.vendor.credit(0, "2")
    bench.enter(token)
    assert bench.enter(token)[0] == second
    assert bench.credit() == (4.0 if second == "ACCEPT" else 2.0)


@pytest.mark.parametrize(("faults", "outcome"), [((), "OLD"), (("ignore-old",), "ACCEPT")])
def test_ignore_old(faults, outcome):
    bench = Bench(faults=faults)
    old = bench.vendor.credit(0, "1", at=datetime(2020, 1, 1))
    for _ in range(20):
        bench.enter(bench.vendor.credit(0, "0.1"))
    assert bench.enter(old)[0] == outcome


@pytest.mark.parametrize(("faults", "outcome"),
                         [((), "KEY_EXPIRED"), (("ignore-key-expiry",), "ACCEPT")])
def test_ignore_key_expiry(faults, outcome):
    bench = Bench(faults=faults, setup=dataclasses.replace(MeterSetup.default(), ken=1))
    assert bench.enter(bench.vendor.credit(0, "1"))[0] == outcome


@pytest.mark.parametrize(("faults", "credit"),
                         [((), "10.500"), (("credit-rounding",), "10.000")])
def test_credit_rounding(faults, credit):
    bench = Bench(faults=faults)
    assert bench.enter(bench.vendor.credit(0, "10.5"))[0] == "ACCEPT"
    assert bench.reg("C.50.0") == credit


@pytest.mark.parametrize(("faults", "low", "high"),
                         [((), 0.020, 0.040), (("late-relay",), 0.200, 0.400)])
def test_late_relay(faults, low, high):
    bench = Bench(faults=faults)
    bench.enter(bench.vendor.credit(0, "1"))
    bench.advance(1.0)
    assert low - 1e-6 <= bench.num("C.51.1") - bench.num("C.51.2") <= high + 1e-6


@pytest.mark.parametrize(("faults", "closed"), [((), "1"), (("no-reconnect",), "0")])
def test_no_reconnect(faults, closed):
    bench = Bench(faults=faults)
    bench.enter(bench.vendor.credit(0, "0.1"))
    bench.advance(1.0)
    bench.load_watts(1000.0)
    bench.advance(400.0)
    assert bench.reg("C.51.0") == "0"
    assert bench.enter(bench.vendor.credit(0, "5"))[0] == "ACCEPT"
    bench.advance(2.0)
    assert bench.reg("C.51.0") == closed


@pytest.mark.parametrize(("faults", "locked"), [((), True), (("no-lockout",), False)])
def test_no_lockout(faults, locked):
    bench = Bench(faults=faults)
    other = sts.Vendor(bytes.fromhex("0123456789abcdef"), base_date=2014)
    outcomes = [bench.enter(other.credit(0, "1"))[0] for _ in range(4)]
    # the 3rd refusal locks for 10 s, less than the 11.9 s it takes to type the 4th token
    assert outcomes == ["CRC_ERROR"] * 4
    assert (bench.num("C.58.0") > 0) is locked
    assert (bench.num("C.58.2") > 0) is locked


@pytest.mark.parametrize(("faults", "credit"), [((), "7.000"), (("volatile-credit",), "0.000")])
def test_volatile_credit(faults, credit):
    bench = Bench(faults=faults)
    bench.enter(bench.vendor.credit(0, "7"))
    bench.model.set_source(output=False)
    bench.advance(2.0)
    bench.model.set_source(output=True)
    bench.advance(1.0)
    assert bench.reg("C.50.0") == credit
    assert bench.reg("C.51.0") == ("1" if credit != "0.000" else "0")


def test_bad_bcc_is_left_to_the_optical_port():
    bench = Bench(faults=("bad-bcc",))
    assert "bad-bcc" in bench.model.faults
    assert bench.enter(bench.vendor.credit(0, "1"))[0] == "ACCEPT"


@pytest.mark.parametrize(("faults", "outcome"),
                         [((), "CRC_ERROR"), (("kct-wrong-key",), "KCT_HELD")])
def test_kct_wrong_key(faults, outcome):
    bench = Bench(faults=faults)
    k2, k3 = bytes.fromhex("1122334455667788"), bytes.fromhex("99aabbccddeeff00")
    for section in bench.vendor.key_change(k2, new_kt=2, new_krn=2, new_ti="01"):
        bench.enter(section)
    assert bench.reg("C.53.0") == "2"
    # a second change, but encrypted under the previous key (k1) instead of k2
    stale = bench.vendor.key_change(k3, new_kt=2, new_krn=3, new_ti="01")
    assert bench.enter(stale[0])[0] == outcome
    if outcome == "KCT_HELD":
        assert bench.enter(stale[1])[0] == "ACCEPT"
        assert bench.reg("C.53.0") == "3"
