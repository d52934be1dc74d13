"""The bench file (TOML): which meter, which ports and instruments, which keys.

Loading is strict, like labgrid's typed records: every key maps onto a dataclass field, and
an unknown key, a missing one or a value of the wrong kind is an error naming the key and the
file, before anything is opened. The vending key stays a reference (env:NAME, file:PATH, or
literal hex for test keys) and is never shown by `repr`.
"""

from __future__ import annotations

import datetime as dt
import tomllib
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

ROLES = ("source", "load", "dmm", "scope")
DEFAULT_BENCH = Path(__file__).resolve().parent / "benches" / "emulated.toml"


class ConfigError(ValueError):
    """A bench file that cannot be used; the message names the file and the key."""


@dataclass(frozen=True)
class BenchInfo:
    name: str = "bench"
    emulated: bool = False
    speed: float = 1.0
    faults: tuple[str, ...] = ()


@dataclass(frozen=True)
class MeterKeys:
    dkga: str = "02"
    ea: str = "07"
    sgc: str = "123456"
    ti: str = "01"
    krn: int = 1
    kt: int = 2
    ken: int = 255
    base_date: int = 1993
    vending_key: str = field(default="", repr=False)


@dataclass(frozen=True)
class MeterConfig:
    pan: str
    optical: str | None = None
    profile: str = "pln_default"
    password: str = "00000000"
    address: str = ""
    keys: MeterKeys = field(default_factory=MeterKeys)


@dataclass(frozen=True)
class KeypadConfig:
    port: str | None = None
    press_ms: float = 65.0
    gap_ms: float = 500.0


@dataclass(frozen=True)
class InstrumentConfig:
    resource: str | None = None
    model: str = "generic"
    calibration_due: dt.date | None = None
    timeout_ms: int = 3000


@dataclass(frozen=True)
class Safety:
    terminals_open: bool = False


@dataclass(frozen=True)
class BenchConfig:
    path: Path
    bench: BenchInfo
    meter: MeterConfig
    keypad: KeypadConfig | None
    instruments: dict[str, InstrumentConfig]
    safety: Safety

    def with_endpoints(self, endpoints: dict[str, Any]) -> BenchConfig:
        """The same bench with the ports/resources an emulator announced filled in."""
        meter = MeterConfig(**{**self.meter.__dict__, "optical": endpoints["optical"]})
        keypad = KeypadConfig(**{**(self.keypad or KeypadConfig()).__dict__,
                                 "port": endpoints["keypad"]})
        instruments = {
            role: InstrumentConfig(**{**cfg.__dict__,
                                      "resource": endpoints["instruments"][role]})
            for role, cfg in self.instruments.items() if role in endpoints["instruments"]
        }
        return BenchConfig(self.path, self.bench, meter, keypad, instruments, self.safety)


def _record(cls: type, data: Any, where: str, path: Path) -> Any:
    if not isinstance(data, dict):
        raise ConfigError(f"{path.name}: [{where}] must be a table")
    names = {f.name: f for f in fields(cls)}
    for key in data:
        if key not in names or key == "keys":
            raise ConfigError(f"{path.name}: unknown key '{where}.{key}' "
                              f"(known: {', '.join(n for n in names if n != 'keys')})")
    values = {}
    for name, f in names.items():
        if name not in data:
            continue
        value = data[name]
        want = str(f.type)
        if "tuple" in want:
            value = tuple(value)
        elif want.startswith("float") and isinstance(value, int) and not isinstance(value, bool):
            value = float(value)
        elif want.startswith("str") and isinstance(value, int) and not isinstance(value, bool):
            value = str(value)
        elif want.startswith("int") and not isinstance(value, int):
            raise ConfigError(f"{path.name}: '{where}.{name}' must be a whole number, "
                              f"got {value!r}")
        elif want.startswith("bool") and not isinstance(value, bool):
            raise ConfigError(f"{path.name}: '{where}.{name}' must be true or false")
        values[name] = value
    try:
        return cls(**values)
    except TypeError as exc:
        missing = str(exc).split("'")[1] if "'" in str(exc) else str(exc)
        raise ConfigError(f"{path.name}: missing key '{where}.{missing}'") from None


def load_bench(path: str | Path | None = None) -> BenchConfig:
    """Parse and check a bench file; None is the packaged emulated bench."""
    path = Path(path) if path else DEFAULT_BENCH
    if not path.exists():
        raise ConfigError(f"bench file {path} does not exist")
    try:
        with path.open("rb") as fh:
            data = tomllib.load(fh)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path.name}: not valid TOML: {exc}") from None
    known = {"bench", "meter", "keypad", "instruments", "safety"}
    for table in data:
        if table not in known:
            raise ConfigError(f"{path.name}: unknown table [{table}] (known: "
                              f"{', '.join(sorted(known))})")
    if "meter" not in data:
        raise ConfigError(f"{path.name}: missing table [meter]")
    bench = _record(BenchInfo, data.get("bench", {}), "bench", path)
    meter_data = dict(data["meter"])
    keys = _record(MeterKeys, meter_data.pop("keys", {}), "meter.keys", path)
    meter = _record(MeterConfig, meter_data, "meter", path)
    meter = MeterConfig(**{**meter.__dict__, "keys": keys})
    _check_pan(meter.pan, path)
    keypad = _record(KeypadConfig, data["keypad"], "keypad", path) if "keypad" in data else None
    instruments = {}
    raw_instruments = data.get("instruments", {})
    for role, value in raw_instruments.items():
        if role not in ROLES:
            raise ConfigError(f"{path.name}: unknown instrument role 'instruments.{role}' "
                              f"(known: {', '.join(ROLES)})")
        if isinstance(value, str):
            value = {"resource": value}
        instruments[role] = _record(InstrumentConfig, value, f"instruments.{role}", path)
        _check_model(role, instruments[role].model, path)
    safety = _record(Safety, data.get("safety", {}), "safety", path)
    config = BenchConfig(path, bench, meter, keypad, instruments, safety)
    if not bench.emulated:
        _check_ports(config)
    elif any(cfg.resource for cfg in instruments.values()) or meter.optical:
        raise ConfigError(f"{path.name}: an emulated bench takes its ports from the emulator; "
                          "remove meter.optical and instrument resources, or set "
                          "bench.emulated = false")
    return config


def _check_pan(pan: str, path: Path) -> None:
    from sts import KeyFormatError, MeterPAN

    try:
        MeterPAN.parse(pan)
    except KeyFormatError as exc:
        raise ConfigError(f"{path.name}: meter.pan: {exc}") from None


def _check_model(role: str, model: str, path: Path) -> None:
    from drivers.instruments import MODELS

    if model not in MODELS[role]:
        raise ConfigError(f"{path.name}: instruments.{role}.model {model!r} is not known "
                          f"(known: {', '.join(MODELS[role])})")


def _check_ports(config: BenchConfig) -> None:
    name = config.path.name
    if not config.meter.optical:
        raise ConfigError(f"{name}: missing key 'meter.optical' (the optical port of a real "
                          "bench, e.g. /dev/ttyUSB0)")
    if config.keypad is not None and not config.keypad.port:
        raise ConfigError(f"{name}: missing key 'keypad.port'")
    for role, cfg in config.instruments.items():
        if not cfg.resource:
            raise ConfigError(f"{name}: missing key 'instruments.{role}.resource'")
