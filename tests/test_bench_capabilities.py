"""Plans ask the bench by capability (rig/bench/capabilities.py): what a bench without the
instruments for one says, and the sampled energy's known answers."""

from __future__ import annotations

from pathlib import Path

import pytest

from rig.bench.capabilities import (
    ENERGY_OVER_INTERVAL,
    SYNC_TO_LOAD_EDGE,
    CapabilityNotOffered,
    IntegratingPowerMeter,
    RelayEdgeTimer,
    SampledLoadPower,
    energy_meter,
    relay_edge_timer,
)


class FakeBench:
    def __init__(self, *roles: str) -> None:
        self.roles = roles

    def has(self, role: str) -> bool:
        return role in self.roles

    def instrument(self, role: str) -> object:
        assert role in self.roles
        return f"<{role}>"


def test_a_bench_without_a_scope_does_not_offer_the_relay_timing():
    with pytest.raises(CapabilityNotOffered) as refused:
        relay_edge_timer(FakeBench("load", "dmm"))
    assert refused.value.capability == SYNC_TO_LOAD_EDGE
    assert "no scope" in str(refused.value)
    assert isinstance(relay_edge_timer(FakeBench("scope")), RelayEdgeTimer)


def test_the_energy_reference_is_the_power_meter_else_the_load():
    assert isinstance(energy_meter(FakeBench("load", "power_meter")), IntegratingPowerMeter)
    assert isinstance(energy_meter(FakeBench("load")), SampledLoadPower)
    with pytest.raises(CapabilityNotOffered, match=ENERGY_OVER_INTERVAL):
        energy_meter(FakeBench("scope"))


def test_a_load_without_a_declared_power_accuracy_is_no_energy_reference():
    """The ITECH IT8600 declares no accuracy (none could be cited): alone it is no power
    reference, so the tests that need one skip naming why instead of failing the meter;
    beside a power meter the bench has its reference."""
    from drivers.instruments.load import ItechIT8600

    class Bench(FakeBench):
        def instrument(self, role: str) -> object:
            return ItechIT8600.__new__(ItechIT8600) if role == "load" else super().instrument(
                role)

    with pytest.raises(CapabilityNotOffered, match=r"the load \(itech-it8600\) declares no "
                                                   r"accuracy for its power readings"):
        energy_meter(Bench("load"))
    assert isinstance(energy_meter(Bench("load", "power_meter")), IntegratingPowerMeter)


def test_sampled_energy_ends_at_the_first_reading_after_the_relay_opened():
    # 1 kW from t = 10 s (the start known to +/- 0.5 s); the relay opens between the
    # readings at 100 s and 110 s; later readings (zero) are not integrated
    samples = [(40.0, 1000.0), (70.0, 1000.0), (100.0, 1000.0), (110.0, 0.0), (120.0, 0.0)]
    reading = SampledLoadPower(load=None).drawn(samples, (10.0, 0.5))
    assert reading.kwh == pytest.approx((90 * 1000 + 5 * 1000) / 3.6e6)  # trapezoids
    # what the readings could have missed: half the last step, plus the start's spread
    assert reading.timing_kwh == pytest.approx((1000 * 10 / 2 + 1000 * 0.5) / 3.6e6)
    assert reading.mean_power_w == 1000.0
    assert reading.function == "power"


def test_window_sets_a_time_base_that_shows_the_press():
    assert RelayEdgeTimer._scale(None) == 0.01
    assert RelayEdgeTimer._scale(40.0) == 10.0  # 5 divisions before the trigger: 50 s
    assert RelayEdgeTimer._scale(1e6) == 50.0   # the longest time base


def test_a_bench_file_names_how_the_scope_is_wired(tmp_path):
    from rig.bench.config import ConfigError, load_bench

    text = (Path(__file__).resolve().parent.parent / "rig" / "benches"
            / "emulated.toml").read_text()
    good = tmp_path / "wired.toml"
    good.write_text(text.replace('[instruments.scope]\nmodel = "generic"',
                                 '[instruments.scope]\nmodel = "generic"\n'
                                 'channels = { load_voltage = 2, enter_sync = 1 }'))
    assert load_bench(good).instruments["scope"].channels == {"load_voltage": 2,
                                                              "enter_sync": 1}
    bad = tmp_path / "miswired.toml"
    bad.write_text(good.read_text().replace("enter_sync = 1", "sync = 1"))
    with pytest.raises(ConfigError, match=r"instruments\.scope\.channels\.sync: expected a "
                                          r"channel name of the scope"):
        load_bench(bad)
