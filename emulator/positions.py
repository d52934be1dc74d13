"""Many emulated meters on one bench: N positions fed by one shared AC source.

`rig emulate --positions N` serves N positions in one process, on one bench clock. Each
position is a whole emulated bench of its own (meter with its own meter number and decoder
key, injector, camera, control channel, load, DMM, scope and switch), except the AC source:
one source feeds every position, each through its own supply switch, as a multi-position
meter bench wires it. What a position's `source` endpoint controls is therefore:

- its output on/off: that position's supply switch only (a power cycle on position 2 never
  interrupts position 1);
- the voltage and frequency: the shared source's. A change is applied only while no other
  position's switch is closed; otherwise it is refused with SCPI -221 "Settings conflict"
  naming the positions fed, so a test that needs another voltage fails loudly instead of
  silently moving the supply under the other positions' tests.

Meter numbers: position K's DSN is the bench file's plus K - 1 (check digits recomputed),
and its decoder key is derived from the vending key for that PAN, as a lot's meters are.
`NAME@K` puts fault NAME in position K's meter only; a plain NAME in every position's.
"""

from __future__ import annotations

import threading
import tomllib
from collections.abc import Iterable
from functools import partial
from pathlib import Path
from typing import Any

from emulator.faults import check_faults
from emulator.model import BenchModel
from emulator.scpi.server import ScpiError
from emulator.setup import DEFAULT_BENCH, MeterSetup
from sts.pan import MeterPAN, luhn_check_digit

#: the most positions one emulated bench serves (each is a dozen threads and two ptys)
MAX_POSITIONS = 48


def position_pan(base_pan: str, position: int) -> str:
    """The PAN of position `position` (1-based): the base PAN's DSN plus position - 1, both
    check digits recomputed. ValueError when the DSN would overflow its digits."""
    pan = MeterPAN.parse(base_pan)
    body = pan.drn[:-1]
    number = int(body) + position - 1
    text = str(number).zfill(len(body))
    if len(text) != len(body):
        raise ValueError(f"position {position}: the meter number of PAN {base_pan} plus "
                         f"{position - 1} has more than {len(body)} digits")
    drn = text + str(luhn_check_digit(text))
    return MeterPAN(pan.iin, drn).digits


def position_faults(names: Iterable[str], positions: int) -> dict[int, frozenset[str]]:
    """position -> its faults, from `NAME` (every position) and `NAME@K` (position K only);
    ValueError names an unknown fault or a position outside 1..positions."""
    out: dict[int, set[str]] = {k: set() for k in range(1, positions + 1)}
    for item in names:
        name, at, where = str(item).partition("@")
        check_faults([name])
        if not at:
            for chosen in out.values():
                chosen.add(name)
            continue
        if not (where.isascii() and where.isdigit() and 1 <= int(where) <= positions):
            raise ValueError(f"--fault {item}: the position after @ must be a whole number "
                             f"from 1 to {positions}")
        out[int(where)].add(name)
    return {k: frozenset(v) for k, v in out.items()}


def setup_for_position(bench_file: str | Path | None, position: int) -> MeterSetup:
    """Position `position`'s meter: the bench file's [meter] and [meter.keys] (a missing
    PAN takes the default emulated bench's) with this position's PAN, its decoder key
    derived from the vending key for that PAN."""
    path = Path(bench_file) if bench_file else DEFAULT_BENCH
    if not path.exists():
        raise ValueError(f"bench file {path} does not exist")
    with path.open("rb") as fh:
        meter = dict(tomllib.load(fh).get("meter", {}))
    keys = meter.pop("keys", {})
    if "pan" not in meter:
        with DEFAULT_BENCH.open("rb") as fh:
            meter["pan"] = tomllib.load(fh)["meter"]["pan"]
    meter["pan"] = position_pan(str(meter["pan"]), position)
    return MeterSetup.from_tables(meter, keys, source=str(path), base=path.parent)


class SharedSource:
    """The one AC source of a positions bench, and each position's supply switch."""

    def __init__(self, voltage: float, frequency: float) -> None:
        self.voltage = float(voltage)
        self.frequency = float(frequency)
        self._lock = threading.Lock()
        self._models: dict[int, PositionModel] = {}

    def attach(self, position: int, model: PositionModel) -> None:
        with self._lock:
            self._models[position] = model
            model.apply_supply(voltage=self.voltage, frequency=self.frequency)

    def fed(self) -> list[int]:
        """The positions whose supply switch is closed now."""
        return [k for k, m in sorted(self._models.items()) if m.switch_closed()]

    def set(self, position: int, *, voltage: float | None = None,
            frequency: float | None = None, output: bool | None = None) -> None:
        """Position `position` asks for V, f (the shared source) and its switch; a change of
        V or f while another position is fed is refused (ScpiError -221)."""
        with self._lock:
            v = self.voltage if voltage is None else float(voltage)
            f = self.frequency if frequency is None else float(frequency)
            if (v, f) != (self.voltage, self.frequency):
                others = [k for k in self.fed() if k != position]
                if others:
                    names = ", ".join(str(k) for k in others)
                    raise ScpiError(-221, f"Settings conflict; the shared source feeds "
                                    f"position {names} at {self.voltage:g} V "
                                    f"{self.frequency:g} Hz (switch them off first)")
                self.voltage, self.frequency = v, f
                for k, model in self._models.items():
                    if k != position:
                        model.apply_supply(voltage=v, frequency=f)
            self._models[position].apply_supply(voltage=v, frequency=f, output=output)


class PositionModel(BenchModel):
    """A position's bench model: its supply comes from the shared source through its own
    switch (the source's output command), everything else is its own."""

    def __init__(self, *args: Any, shared: SharedSource, position: int, **kw: Any) -> None:
        super().__init__(*args, **kw)
        self.position = position
        self.shared = shared
        shared.attach(position, self)

    def set_source(self, *, voltage: float | None = None, frequency: float | None = None,
                   output: bool | None = None) -> None:
        self.shared.set(self.position, voltage=voltage, frequency=frequency, output=output)

    def apply_supply(self, **changes: Any) -> None:
        """What the shared source and this position's switch now give the meter."""
        super().set_source(**changes)

    def switch_closed(self) -> bool:
        return bool(self.source().output)


def position_model_factory(shared: SharedSource, position: int) -> Any:
    """A BenchModel factory (as EmulatedBench takes) for position `position`."""
    return partial(PositionModel, shared=shared, position=position)
