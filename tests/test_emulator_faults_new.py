"""The faults a plan written by principle must catch (issue 12): each one, on the model with a
hand-moved clock, deviates from the clean meter by a known amount, and the clean meter's
side of every comparison is asserted too (both sides of the same check)."""

from __future__ import annotations

from datetime import datetime

import pytest
from emulator_support import Bench

import sts
from emulator.faults import FAULTS
from emulator.optical import OpticalPortServer

NEW = [
    "early-lockout", "short-tid-store", "trip-below-limit", "max-credit-short",
    "tamper-clear-credit", "kct-loses-credit", "sticky-lockout", "exhausted-reconnects",
    "frozen-clock", "readout-no-end", "slow-reaction", "fast-energy", "credit-drift",
    "voltage-reads-high", "clear-credit-ignored", "endless-lockout", "short-entry-timeout",
    "short-trip-delay", "early-reconnect", "marginal-relay"]
CLEAN: tuple[str, ...] = ()
STRANGER = sts.Vendor(bytes.fromhex("0123456789abcdef"), base_date=2014)


def test_the_new_faults_are_registered_with_one_line_each():
    assert list(FAULTS)[-len(NEW):] == NEW
    assert all(FAULTS[name] and "\n" not in FAULTS[name] for name in NEW)
    # `rig emulate --list-faults` (and the README's copy of it) stays within 100 columns
    width = max(map(len, FAULTS))
    assert width == 20 and all(width + 2 + len(text) <= 100 for text in FAULTS.values())


def power_cycle(bench: Bench, off_s: float = 2.0) -> None:
    bench.model.set_source(output=False)
    bench.advance(off_s)
    bench.model.set_source(output=True)
    bench.advance(1.0)


def refuse(bench: Bench, n: int) -> None:
    for _ in range(n):
        assert bench.enter(STRANGER.credit(0, "1"))[0] in ("CRC_ERROR", "LOCKED")


# --- both sides of every declared number ----------------------------------------------------

@pytest.mark.parametrize(("faults", "remaining"), [(CLEAN, "0.000"), (("early-lockout",), "9.500")])
def test_early_lockout_locks_one_token_below_the_threshold(faults, remaining):
    bench = Bench(faults=faults)
    refuse(bench, 2)  # threshold 3: two refusals must not lock
    assert bench.reg("C.58.1") == "2"
    assert bench.reg("C.58.0") == remaining  # 10 s from ENTER, read 0.5 s later


@pytest.mark.parametrize(("faults", "again"), [(CLEAN, "USED"), (("short-tid-store",), "OLD")])
def test_short_tid_store_forgets_the_oldest_of_twenty(faults, again):
    bench = Bench(faults=faults)
    tokens = [bench.vendor.credit(0, "0.1") for _ in range(20)]
    for token in tokens:
        assert bench.enter(token)[0] == "ACCEPT"
    assert bench.enter(tokens[0])[0] == again  # depth 20: the oldest is still in the store


@pytest.mark.parametrize(("faults", "closed"), [(CLEAN, "1"), (("trip-below-limit",), "0")])
def test_trip_below_limit_trips_at_96_percent_of_the_limit(faults, closed):
    bench = Bench(faults=faults)
    bench.enter(bench.vendor.credit(0, "10"))
    assert bench.enter(bench.vendor.power_limit(1000))[0] == "ACCEPT"
    bench.load_watts(960.0)
    bench.advance(60.0)  # twice the 30 s trip delay
    assert bench.reg("C.51.0") == closed


@pytest.mark.parametrize(("faults", "amount", "outcome"), [
    (CLEAN, "935.5", "ACCEPT"), (("max-credit-short",), "935.5", "OVERFLOW"),
    (CLEAN, "935", "ACCEPT"), (("max-credit-short",), "935", "ACCEPT"),
    (CLEAN, "936.1", "OVERFLOW")])
def test_max_credit_short_refuses_the_last_unit(faults, amount, outcome):
    bench = Bench(faults=faults)
    assert bench.enter(bench.vendor.credit(0, amount))[0] == outcome


# --- both outcomes of every state kept across an event ---------------------------------------

@pytest.mark.parametrize(("faults", "credit", "closed"),
                         [(CLEAN, "5.000", "1"), (("tamper-clear-credit",), "0.000", "0")])
def test_tamper_clear_credit(faults, credit, closed):
    bench = Bench(faults=faults)
    bench.enter(bench.vendor.credit(0, "5"))
    bench.model.set_tamper(True)
    assert bench.enter(bench.vendor.credit(0, "1"))[0] == "TAMPER"
    assert bench.enter(bench.vendor.clear_tamper())[0] == "ACCEPT"
    bench.advance(1.0)
    assert (bench.reg("C.54.0"), bench.reg("C.50.0"), bench.reg("C.51.0")) == ("0", credit, closed)


@pytest.mark.parametrize(("faults", "credit"), [(CLEAN, "5.000"), (("kct-loses-credit",), "0.000")])
def test_kct_loses_credit(faults, credit):
    bench = Bench(faults=faults)
    bench.enter(bench.vendor.credit(0, "5"))
    for section in bench.vendor.key_change(bytes.fromhex("1122334455667788"), new_kt=2,
                                           new_krn=2, new_ti="01"):
        bench.enter(section)
    assert bench.reg("C.53.0") == "2"
    assert bench.reg("C.50.0") == credit


@pytest.mark.parametrize(("faults", "remaining"),
                         [(CLEAN, "0.000"), (("sticky-lockout",), "6.500")])
def test_sticky_lockout_survives_a_power_cycle(faults, remaining):
    bench = Bench(faults=faults)
    refuse(bench, 3)
    assert bench.reg("C.58.0") == "9.500"
    power_cycle(bench)  # 3 s later; the profile declares reset_on_power_cycle = true
    assert bench.reg("C.58.0") == remaining


@pytest.mark.parametrize(("faults", "closed", "watts"),
                         [(CLEAN, "0", 0.0), (("exhausted-reconnects",), "1", 1000.0)])
def test_exhausted_meter_reconnects_after_a_power_cycle(faults, closed, watts):
    bench = Bench(faults=faults)
    bench.enter(bench.vendor.credit(0, "0.1"))
    bench.load_watts(1000.0)
    bench.advance(400.0)  # 0.1 kWh lasts 360 s at 1 kW
    assert bench.reg("C.51.0") == "0"
    power_cycle(bench)
    assert (bench.reg("C.51.0"), bench.reg("C.50.0")) == (closed, "0.000")
    assert bench.model.measure().load_p == pytest.approx(watts)
    bench.enter(bench.vendor.credit(0, "0.1"))  # credit, then exhausted again: open either way
    bench.advance(400.0)
    assert bench.reg("C.51.0") == "0"


# --- the wire protocol in full ---------------------------------------------------------------

def meter_clock(bench: Bench) -> datetime:
    return datetime.strptime(bench.reg("0.9.2") + " " + bench.reg("0.9.1"), "%y-%m-%d %H:%M:%S")


@pytest.mark.parametrize(("faults", "moved"), [(CLEAN, 5.0), (("frozen-clock",), 0.0)])
def test_frozen_clock_stands_still(faults, moved):
    bench = Bench(faults=faults)
    before = meter_clock(bench)
    bench.advance(5.0)
    assert (meter_clock(bench) - before).total_seconds() == moved


class Recorded:
    """The optical port's state machine on a hand-moved model: what it would send, and every
    wait it would make before sending, recorded instead of done on the pty."""

    def __init__(self, faults: tuple[str, ...]) -> None:
        self.bench = Bench(faults=faults)
        self.server = OpticalPortServer(self.bench.model, baud_char="5")
        self.sent: list[bytes] = []
        self.waits: list[float] = []
        self.server._send = lambda data, remember=True: self.sent.append(data)
        self.server._interrupted = lambda seconds: self.waits.append(seconds) or False

    def feed(self, data: bytes) -> list[bytes]:
        self.sent = []
        self.server._hear(data)
        self.server._consume()
        return self.sent

    def close(self) -> None:
        self.server.port.close()


@pytest.mark.parametrize(("faults", "tail"),
                         [(CLEAN, b"!\r\n\x03"), (("readout-no-end",), b")\r\n\x03")])
def test_readout_no_end_lacks_the_end_line(faults, tail):
    port = Recorded(faults)
    try:
        assert port.feed(b"/?!\r\n")[0].endswith(b"\r\n")
        frame = port.feed(b"\x06050\r\n")[0]
        assert frame[-5:-1] == tail
    finally:
        port.close()


@pytest.mark.parametrize(("faults", "reaction"), [(CLEAN, 0.020), (("slow-reaction",), 1.8)])
def test_slow_reaction_answers_past_the_standards_limit(faults, reaction):
    port = Recorded(faults)
    try:
        ident = port.feed(b"/?!\r\n")
        assert ident == [port.server.identification + b"\r\n"]
        # the reaction time of _send (20 ms here) plus any wait before it
        assert port.server.reaction_s + sum(port.waits) == pytest.approx(reaction)
    finally:
        port.close()


# --- the meter cross-checked against the bench -----------------------------------------------

@pytest.mark.parametrize(("faults", "energy", "credit", "opened_after"), [
    (CLEAN, 0.100, 9.900, 360.0), (("fast-energy",), 0.105, 9.895, 342.857),
    (("credit-drift",), 0.100, 9.905, 378.947)])
def test_energy_and_credit_against_the_energy_drawn(faults, energy, credit, opened_after):
    bench = Bench(faults=faults)
    bench.enter(bench.vendor.credit(0, "10"))
    bench.load_watts(1000.0)
    bench.advance(360.0)  # 0.1 kWh drawn
    assert bench.num("1.8.0") == pytest.approx(energy, abs=1e-3)
    assert bench.num("C.50.0") == pytest.approx(credit, abs=1e-3)
    assert bench.enter(bench.vendor.clear_credit(0))[0] == "ACCEPT"
    assert bench.enter(bench.vendor.credit(0, "0.1"))[0] == "ACCEPT"
    bench.advance(1.0)
    closed_at = bench.num("C.51.1")  # the contact closed a relay operate time after ENTER
    bench.advance(500.0)
    assert bench.num("C.51.4") - closed_at == pytest.approx(opened_after, abs=1e-3)


@pytest.mark.parametrize(("faults", "volts"),
                         [(CLEAN, "230.0"), (("voltage-reads-high",), "236.9")])
def test_voltage_reads_high(faults, volts):
    bench = Bench(faults=faults)
    assert bench.reg("32.7.0") == volts
    assert bench.enter("41")[1] == f"{volts} V"
    assert bench.model.measure().source_v == 230.0


# --- preconditions first, waits bounded ------------------------------------------------------

@pytest.mark.parametrize(("faults", "credit"),
                         [(CLEAN, "0.000"), (("clear-credit-ignored",), "5.000")])
def test_clear_credit_ignored(faults, credit):
    bench = Bench(faults=faults)
    bench.enter(bench.vendor.credit(0, "5"))
    assert bench.enter(bench.vendor.clear_credit(0)) == ("ACCEPT", "BENAR")
    assert bench.reg("C.50.0") == credit


@pytest.mark.parametrize(("faults", "after_wait", "after_cycle"),
                         [(CLEAN, "0.000", "0.000"), (("endless-lockout",), "inf", "0.000")])
def test_endless_lockout_ends_only_with_a_power_cycle(faults, after_wait, after_cycle):
    bench = Bench(faults=faults)
    refuse(bench, 3)
    bench.advance(2000.0)  # past the 1280 s cap of any lock-out
    assert bench.reg("C.58.0") == after_wait
    power_cycle(bench)
    assert bench.reg("C.58.0") == after_cycle


# --- the same verdict at every clock speed ---------------------------------------------------

@pytest.mark.parametrize(("faults", "at_17_5", "at_20_5"),
                         [(CLEAN, "12345", "0.00"), (("short-entry-timeout",), "0.00", "0.00")])
def test_short_entry_timeout(faults, at_17_5, at_20_5):
    bench = Bench(faults=faults)
    bench.keys("12345")  # the last key went up 0.5 s ago
    bench.advance(17.0)  # 17.5 s: inside the declared 20 s, past 85% of it (17 s)
    assert bench.reg("C.56.0") == at_17_5
    bench.advance(3.0)
    assert bench.reg("C.56.0") == at_20_5


@pytest.mark.parametrize(("faults", "delay", "reconnect"), [
    (CLEAN, 30.0, 120.0), (("short-trip-delay",), 25.5, 120.0),
    (("early-reconnect",), 30.0, 102.0)])
def test_trip_delay_and_reconnect_time(faults, delay, reconnect):
    bench = Bench(faults=faults)
    bench.enter(bench.vendor.credit(0, "10"))
    bench.enter(bench.vendor.power_limit(1000))
    t0 = bench.clock.t
    bench.load_watts(1500.0)
    bench.advance(160.0)
    opened = bench.num("C.51.4")
    assert opened - t0 == pytest.approx(delay, abs=1e-6)
    assert bench.num("C.51.5") - opened == pytest.approx(reconnect, abs=1e-6)


@pytest.mark.parametrize(("faults", "low", "high"),
                         [(CLEAN, 0.020, 0.040), (("marginal-relay",), 0.115, 0.135)])
def test_marginal_relay_just_past_the_limit(faults, low, high):
    bench = Bench(faults=faults)
    bench.enter(bench.vendor.credit(0, "1"))
    bench.advance(1.0)
    operate = bench.num("C.51.1") - bench.num("C.51.2")
    assert low - 1e-6 <= operate <= high + 1e-6
    assert (operate > bench.profile.relay.operate_limit_s) is bool(faults)
