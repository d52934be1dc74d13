"""Helpers of the in-process emulator model tests: a model on a hand-moved clock, a vendor
holding the same keys, and a typist that presses keys the way the injector does."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import sts
from emulator.clock import ManualClock
from emulator.model import BenchModel
from emulator.setup import MeterSetup
from meterprofile import MeterProfile, load_profile

PRESS = 0.065
GAP = 0.5


class Bench:
    """A BenchModel on a ManualClock, with a vendor for its meter."""

    def __init__(self, *, faults: tuple[str, ...] = (), state_path: Path | None = None,
                 profile: MeterProfile | None = None, setup: MeterSetup | None = None,
                 seed: int = 62055, start: float = 100.0) -> None:
        self.setup = setup or MeterSetup.default()
        self.profile = profile or load_profile()
        self.clock = ManualClock(start)
        self.model = BenchModel(self.setup, self.profile, self.clock, frozenset(faults),
                                state_path, seed=seed)
        self.vendor = sts.Vendor(self.setup.decoder_key, ea=self.setup.ea,
                                 base_date=self.setup.base_date, kt=self.setup.kt)

    # time
    def advance(self, bench_s: float) -> None:
        self.clock.advance(bench_s)

    def at(self, t: float) -> None:
        assert t >= self.clock.t, "the bench clock does not run backwards"
        self.clock.t = t

    # keys
    def press(self, key: str) -> float:
        t = self.model.key_down(key)
        self.clock.advance(PRESS)
        self.model.key_up(key)
        self.clock.advance(GAP)
        return t

    def keys(self, keys: str) -> float:
        """Press 0-9, '<' backspace, '#' enter; returns the time ENTER (or the last key) went
        down."""
        t = self.clock.t
        for k in keys:
            t = self.press({"<": "BS", "#": "ENT"}.get(k, k))
        return t

    def enter(self, token: object) -> tuple[str, str]:
        """Type a token or code and ENTER; (outcome C.52.0, display C.56.0)."""
        before = self.reg("C.52.2")
        self.keys(str(token) + "#")
        assert self.reg("C.52.2") == str(int(before) + 1), "the entry was not processed"
        return self.reg("C.52.0"), self.reg("C.56.0")

    # registers
    def reg(self, address: str) -> str:
        found = self.model.read_register(address)
        assert found is not None, f"no register {address}"
        return found[0]

    def num(self, address: str) -> float:
        return float(self.reg(address))

    def credit(self) -> float:
        return self.num("C.50.0")

    def load_watts(self, watts: float) -> None:
        self.model.set_load(mode="POW", power=watts, on=True)


def with_profile(profile: MeterProfile, table: str, **values: object) -> MeterProfile:
    """The profile with some values of one table replaced."""
    part = dataclasses.replace(getattr(profile, table), **values)
    return dataclasses.replace(profile, **{table: part})


class ServedInstruments:
    """Emulated instrument models served over real sockets on 127.0.0.1 for one `Bench`,
    each with its driver connected; call it with (device class, driver class)."""

    def __init__(self, bench: Bench) -> None:
        self.bench = bench
        self._servers: list = []
        self._drivers: list = []

    def __call__(self, device_cls, driver_cls, **kwargs):
        from emulator.scpi.server import ScpiServer

        device = device_cls(self.bench.model)
        server = ScpiServer(device)
        server.start()
        self._servers.append(server)
        driver = driver_cls(server.resource, timeout_ms=2000, **kwargs)
        self._drivers.append(driver)
        return driver, device

    def close(self) -> None:
        for driver in self._drivers:
            driver._res.close()
        for server in self._servers:
            server.stop()
