"""The emulated bench's physics in process: energy metering, credit running out at its exact
bench time, the relay's operate delay, reconnection, the maximum power limit, power cycles
and what the scope sees."""

from __future__ import annotations

import math
import time

import pytest
from emulator_support import PRESS, Bench

import sts
from emulator.clock import Clock
from emulator.model import BenchModel

SPREAD = (0.020, 0.040)  # operate_s 0.030 +/- spread_s 0.010


def closed_bench(kwh: str = "0.5") -> Bench:
    """A meter with `kwh` credit and its relay closed (load off)."""
    bench = Bench()
    assert bench.enter(bench.vendor.credit(0, kwh))[0] == "ACCEPT"
    bench.advance(1.0)
    assert bench.reg("C.51.0") == "1"
    return bench


def test_relay_closes_on_credit_after_its_operate_delay():
    bench = Bench()
    assert bench.reg("C.51.0") == "0"  # no credit at manufacture: open
    bench.enter(bench.vendor.credit(0, "1"))
    judged = bench.num("C.52.3")
    assert bench.num("C.51.2") == pytest.approx(judged, abs=1e-6)
    delay = bench.num("C.51.1") - bench.num("C.51.2")
    assert SPREAD[0] <= delay <= SPREAD[1]
    assert delay <= bench.profile.relay.reconnect_limit_s
    assert bench.reg("C.51.3") == "CREDIT"


def test_credit_runs_down_under_a_1kw_load_and_the_relay_opens_at_1800s():
    bench = closed_bench("0.5")
    t_on = bench.clock.t
    bench.load_watts(1000.0)
    bench.at(t_on + 360.0)  # 0.1 kWh
    assert bench.reg("C.50.0") == "0.400"
    assert bench.reg("1.8.0") == "000000.100"
    assert bench.reg("1.7.0") == "1.000"
    assert bench.reg("31.7.0") == "4.348"
    bench.at(t_on + 1799.9)
    assert bench.reg("C.51.0") == "1"
    bench.at(t_on + 1800.5)
    assert bench.reg("C.51.0") == "0"
    assert bench.reg("C.51.3") == "CREDIT"
    assert bench.num("C.51.2") == pytest.approx(t_on + 1800.0, abs=1e-6)
    delay = bench.num("C.51.1") - bench.num("C.51.2")
    assert SPREAD[0] <= delay <= SPREAD[1]
    assert bench.reg("C.50.0") == "0.000"
    # the load drew 1 kW until the contact opened, then nothing
    assert bench.num("1.8.0") == pytest.approx(0.5 + delay / 3600.0, abs=1e-3)
    assert bench.model.measure().load_i == 0.0
    assert bench.reg("C.55.0") == "1"


def test_current_mode_load_meters_v_times_i():
    bench = closed_bench("10")
    bench.model.set_source(voltage=200.0)
    bench.model.set_load(mode="CURR", current=5.0, on=True)  # 1000 W
    m = bench.model.measure()
    assert (m.load_v, m.load_i, m.load_p) == (200.0, 5.0, 1000.0)
    assert m.source_i == pytest.approx(5.01)  # plus the meter's own small burden
    bench.advance(3600.0)
    assert bench.reg("C.50.0") == "9.000"


def test_load_draws_nothing_below_10_volts_or_when_off():
    bench = closed_bench("10")
    bench.model.set_load(mode="CURR", current=5.0, on=False)
    assert bench.model.measure().load_i == 0.0
    bench.model.set_load(on=True)
    bench.model.set_source(voltage=9.0)
    assert bench.model.measure().load_i == 0.0
    assert not bench.model.powered()
    bench.model.set_source(voltage=230.0, output=False)
    assert bench.model.measure().load_v == 0.0


def test_exhaustion_time_is_exact_at_high_clock_speed():
    """A real clock at 10 000 x: the model is lazy, yet the relay command is at exactly
    close time + 1800 s however late the model is asked."""
    bench = Bench()
    model = BenchModel(bench.setup, bench.profile, Clock(10_000.0))
    model.set_load(mode="POW", power=1000.0, on=True)  # draws only once the relay closes
    for key in bench.vendor.credit(0, "0.5").digits + "E":
        key = "ENT" if key == "E" else key
        model.key_down(key)
        model.key_up(key)
    assert model.read_register("C.52.0")[0] == "ACCEPT"
    judged = float(model.read_register("C.52.3")[0])
    deadline = time.monotonic() + 10.0
    while model.read_register("C.51.3")[0] != "CREDIT" or \
            model.read_register("C.51.0")[0] != "0":
        assert time.monotonic() < deadline, "credit never ran out"
        time.sleep(0.005)
    commanded = float(model.read_register("C.51.2")[0])
    opened = float(model.read_register("C.51.1")[0])
    # the contact closed judged + delay; 0.5 kWh at 1 kW later the meter commanded it open
    assert SPREAD[0] - 1e-6 <= commanded - 1800.0 - judged <= SPREAD[1] + 1e-6
    assert SPREAD[0] - 1e-6 <= opened - commanded <= SPREAD[1] + 1e-6
    assert model.read_register("C.50.0")[0] == "0.000"


def test_reconnects_after_credit_on_an_exhausted_meter():
    bench = closed_bench("0.1")
    bench.load_watts(1000.0)
    bench.advance(400.0)
    assert bench.reg("C.51.0") == "0"
    assert bench.enter(bench.vendor.credit(0, "1")) == ("ACCEPT", "BENAR")
    judged = bench.num("C.52.3")
    assert bench.reg("C.51.0") == "1"
    assert bench.num("C.51.2") == pytest.approx(judged, abs=1e-6)
    assert 0 < bench.num("C.51.1") - judged <= bench.profile.relay.reconnect_limit_s


def test_disconnect_threshold_from_the_profile():
    from emulator_support import with_profile
    profile = with_profile(Bench().profile, "relay", disconnect_credit_kwh=0.3)
    bench = Bench(profile=profile)
    bench.enter(bench.vendor.credit(0, "0.5"))
    bench.advance(1.0)
    t_on = bench.clock.t
    bench.load_watts(1000.0)
    bench.at(t_on + 721.0)  # (0.5 - 0.3) kWh at 1 kW = 720 s
    assert bench.num("C.51.2") == pytest.approx(t_on + 720.0, abs=1e-6)
    assert bench.reg("C.51.0") == "0"
    assert bench.num("C.50.0") == pytest.approx(0.3, abs=2e-5)


def test_power_cycle_keeps_credit_tids_and_counters_and_drops_a_half_typed_token():
    bench = closed_bench("10.5")
    token = bench.model.state.credit_tokens[0][0]
    half = bench.vendor.credit(0, "1").digits
    bench.keys(half[:10])
    bench.model.set_source(output=False)
    assert not bench.model.powered()
    entries = bench.reg("C.52.2")
    bench.keys("41#")  # no supply: the keypad is dead
    assert bench.reg("C.52.2") == entries
    bench.advance(2.0)
    bench.model.set_source(output=True)
    assert bench.model.powered()
    assert bench.reg("C.59.0") == "1"
    assert bench.reg("C.50.0") == "10.500"
    assert bench.enter(half[10:]) == ("FORMAT_ERROR", "GAGAL")
    assert bench.enter(token) == ("USED", "USED")
    bench.advance(1.0)
    assert bench.reg("C.51.0") == "1"  # the latching relay stayed closed


def test_brown_out_below_60_percent_is_a_power_cycle():
    bench = closed_bench("5")
    bench.model.set_source(voltage=120.0)
    assert not bench.model.powered()
    bench.model.set_source(voltage=230.0)
    assert bench.reg("C.59.0") == "1"


def test_maximum_power_limit_trips_reconnects_and_stays_open_after_max_trips():
    bench = closed_bench("50")
    o = bench.profile.overload
    assert bench.enter(bench.vendor.power_limit(1000)) == ("ACCEPT", "BENAR")
    bench.advance(1.0)
    t0 = bench.clock.t
    bench.load_watts(1500.0)
    bench.at(t0 + o.trip_delay_s - 0.1)
    assert bench.reg("C.51.0") == "1"
    bench.at(t0 + o.trip_delay_s + 0.1)
    assert bench.reg("C.51.0") == "0"
    assert bench.reg("C.51.3") == "OVERLOAD"
    assert bench.num("C.51.2") == pytest.approx(t0 + o.trip_delay_s, abs=1e-6)
    assert bench.reg("C.57.2") == "1"
    assert bench.enter("68") == ("ACCEPT", "1")
    trip = t0 + o.trip_delay_s
    bench.at(trip + o.reconnect_s + 0.1)
    assert bench.num("C.51.2") == pytest.approx(trip + o.reconnect_s, abs=1e-6)
    assert bench.reg("C.51.0") == "1"
    for n in range(2, o.max_trips + 1):  # still over the limit: it trips again
        closed = bench.num("C.51.1")
        bench.at(closed + o.trip_delay_s + 0.1)
        assert bench.num("C.51.2") == pytest.approx(closed + o.trip_delay_s, abs=1e-6)
        assert bench.reg("C.57.2") == str(n)
        bench.at(bench.clock.t + o.reconnect_s)
    assert bench.reg("C.51.0") == "0"  # max trips in the window: stays open
    bench.advance(3 * o.window_s)
    assert bench.reg("C.51.0") == "0"
    bench.model.set_load(on=False)
    assert bench.enter(bench.vendor.credit(0, "1")) == ("ACCEPT", "BENAR")
    bench.advance(1.0)
    assert bench.reg("C.51.0") == "1"


def test_no_power_limit_means_no_trip():
    bench = closed_bench("100")
    assert bench.reg("C.57.0") == "0"
    bench.load_watts(10_000.0)
    bench.advance(600.0)
    assert bench.reg("C.51.0") == "1"
    assert bench.reg("C.57.2") == "0"


def test_the_scope_sees_the_relay_open_at_contact_time():
    bench = closed_bench("0.5")
    t_on = bench.clock.t
    bench.load_watts(1000.0)
    bench.at(t_on + 1801.0)
    model = bench.model
    opened = bench.num("C.51.1")
    trig = model.find_trigger(t_on + 1799.0, channel=1, kind="DROP", slope="NEG",
                              level=20.0, drop_time=0.005)
    assert trig is not None
    assert opened - 0.010 <= trig <= opened  # the last excursion beyond 20 V before the open
    assert model.sample(1, opened + 0.001) == 0.0
    peak = 230.0 * math.sqrt(2.0)
    assert abs(model.sample(1, opened - 0.005)) == pytest.approx(
        abs(peak * math.sin(2 * math.pi * 50.0 * (opened - 0.005))))
    # nothing to trigger on after the contact opened
    assert model.find_trigger(opened + 0.1, channel=1, kind="EDGE", slope="POS", level=10.0,
                              drop_time=0.0) is None


def test_the_scope_sees_the_relay_close_and_the_enter_sync():
    bench = Bench()
    t_enter = bench.keys(bench.vendor.credit(0, "1").digits + "#")
    bench.advance(1.0)
    model = bench.model
    closed = bench.num("C.51.1")
    edge = model.find_trigger(t_enter - 1.0, channel=2, kind="EDGE", slope="POS", level=2.5,
                              drop_time=0.0)
    assert edge == pytest.approx(t_enter, abs=1e-9)
    assert model.sample(2, t_enter + PRESS / 2) == 5.0
    assert model.sample(2, t_enter + PRESS + 0.01) == 0.0
    assert model.last_rising_edge(2, closed) == pytest.approx(t_enter, abs=1e-9)
    rise = model.find_trigger(t_enter, channel=1, kind="EDGE", slope="POS", level=100.0,
                              drop_time=0.0)
    assert closed <= rise <= closed + 0.02
    assert model.sample(1, rise) == pytest.approx(100.0, abs=1e-6)
    assert model.last_rising_edge(1, closed + 1.0) == pytest.approx(closed, abs=1e-6)


def test_unpowered_meter_answers_no_key():
    bench = Bench()
    bench.model.set_source(output=False)
    assert not bench.model.powered()
    bench.keys(bench.vendor.credit(0, "1").digits + "#")
    assert bench.reg("C.52.2") == "0"
    assert bench.reg("32.7.0") == "0.0"


def test_relay_delays_are_repeatable_for_a_seed():
    def delays(seed: int) -> list[float]:
        bench = Bench(seed=seed)
        out = []
        for _ in range(3):
            bench.enter(bench.vendor.credit(0, "1"))
            bench.advance(1.0)
            out.append(bench.num("C.51.1") - bench.num("C.51.2"))
            bench.enter(bench.vendor.clear_credit(0))
            bench.advance(1.0)
        return out

    assert delays(1) == delays(1)
    assert delays(1) != delays(2)


def test_model_is_safe_from_several_threads():
    import threading

    bench = closed_bench("10")
    model = bench.model
    errors: list[BaseException] = []

    def worker() -> None:
        try:
            for _ in range(200):
                model.readout()
                model.measure()
                model.sample(1, bench.clock.t)
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=worker) for _ in range(4)]
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    assert errors == []
    assert sts.Outcome.ACCEPT.value == model.read_register("C.52.0")[0]


def test_sync_pulse_width_is_the_last_complete_press():
    from emulator.physics import SignalHistory

    history = SignalHistory()
    assert history.last_pulse_width(2, 5.0) is None  # no press yet
    history.sync_down(1.0)
    history.sync_up(1.065)
    history.sync_down(2.0)  # pressed, not yet released: not a complete pulse
    assert history.last_pulse_width(2, 2.5) == pytest.approx(0.065)
    assert history.last_pulse_width(2, 1.03) is None  # the first press still down then
    history.sync_up(2.25)
    assert history.last_pulse_width(2, 3.0) == pytest.approx(0.25)
    assert history.last_pulse_width(1, 3.0) is None  # the load voltage has no pulses


def test_an_injector_press_lasts_its_time_in_bench_time_however_late_the_host_wakes():
    """The emulated injector releases ENTER at the press's end on the bench clock: a host
    that oversleeps (a loaded machine at 200x) does not stretch the hold the meter and the
    scope's sync line see (65 ms held for 195 ms was seen under load)."""
    from emulator.clock import ManualClock
    from emulator.keypad import KeypadInjectorServer

    class LateClock(ManualClock):
        def sleep(self, bench_s: float) -> None:
            super().sleep(3 * bench_s)  # every sleep wakes up three times too late

    bench = Bench()
    bench.clock.__class__ = LateClock
    server = KeypadInjectorServer(bench.model, press_ms=65)
    try:
        down = float(server.handle("PRESS ENT 65"))
    finally:
        server.port.close()
    assert bench.clock.now() == pytest.approx(down + 0.195)  # the host woke up late
    assert bench.model.history.last_pulse_width(2, down + 1) == pytest.approx(PRESS)
