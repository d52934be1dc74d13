"""A meter's declared values: the numbers IEC 62055 and SPLN D3.009-1 leave to the maker.

The emulated meter takes its behaviour from a profile, and the conformance plans test a real
meter against the profile its maker declares, so the same file serves both. Loading is
strict: an unknown table or key is an error naming it and the file, so a typo never silently
falls back to a default.
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any

__all__ = [
    "Accuracy", "Alarm", "Display", "Lockout", "MeterInfo", "MeterProfile", "Optical",
    "Overload", "Ratings", "Relay", "Tamper", "Tokens", "load_profile", "profile_path",
]

PACKAGE_DIR = Path(__file__).resolve().parent


@dataclass(frozen=True)
class MeterInfo:
    model: str
    manufacturer: str
    firmware: str
    optical_manufacturer_id: str


@dataclass(frozen=True)
class Ratings:
    voltage_v: float
    frequency_hz: float
    basic_current_a: float
    max_current_a: float
    accuracy_class: float
    meter_constant_imp_kwh: int
    contracted_va: int


@dataclass(frozen=True)
class Display:
    credit_resolution_kwh: float


@dataclass(frozen=True)
class Tokens:
    tid_store_depth: int
    entry_timeout_s: float
    credit_subclasses: tuple[int, ...]
    max_credit_kwh: float
    key_expiry: bool
    phase_unbalance: bool
    press_ms: int
    gap_ms: int


@dataclass(frozen=True)
class Lockout:
    threshold: int
    first_s: float
    factor: float
    cap_s: float
    reset_on_power_cycle: bool

    def duration(self, refusals: int) -> float:
        """Lock-out after `refusals` consecutive refused tokens (0 when below threshold)."""
        if refusals < self.threshold:
            return 0.0
        return min(self.first_s * self.factor ** (refusals - self.threshold), self.cap_s)


@dataclass(frozen=True)
class Relay:
    disconnect_credit_kwh: float
    operate_s: float
    spread_s: float
    operate_limit_s: float
    reconnect_limit_s: float
    test_duration_s: float


@dataclass(frozen=True)
class Overload:
    power_limit_w: int
    trip_delay_s: float
    reconnect_s: float
    max_trips: int
    window_s: float


@dataclass(frozen=True)
class Alarm:
    low_credit_kwh: float
    repeat_min: int


@dataclass(frozen=True)
class Tamper:
    refuse_credit: bool
    leak_threshold_a: float


@dataclass(frozen=True)
class Accuracy:
    display_tolerance_pct: float


@dataclass(frozen=True)
class Optical:
    baud_char: str
    password: str
    reaction_ms: int


_TABLES: dict[str, type] = {
    "meter": MeterInfo, "ratings": Ratings, "display": Display, "tokens": Tokens,
    "lockout": Lockout, "relay": Relay, "overload": Overload, "alarm": Alarm,
    "tamper": Tamper, "accuracy": Accuracy, "optical": Optical,
}

_UNITS = {"_v": "V", "_hz": "Hz", "_a": "A", "_s": "s", "_w": "W", "_kwh": "kWh", "_va": "VA",
          "_ms": "ms", "_pct": "%", "_min": "min", "_imp_kwh": "imp/kWh"}


@dataclass(frozen=True)
class MeterProfile:
    """Every declared value of one meter model, one dataclass per TOML table."""

    name: str
    source: str
    meter: MeterInfo
    ratings: Ratings
    display: Display
    tokens: Tokens
    lockout: Lockout
    relay: Relay
    overload: Overload
    alarm: Alarm
    tamper: Tamper
    accuracy: Accuracy
    optical: Optical

    def as_table(self) -> list[tuple[str, str, str]]:
        """(key, value, unit) rows for the report, e.g. ("relay.operate_s", "0.03", "s")."""
        rows = []
        for table in _TABLES:
            record = getattr(self, table)
            for f in fields(record):
                unit = next((u for suffix, u in sorted(_UNITS.items(), key=lambda kv: -len(kv[0]))
                             if f.name.endswith(suffix)), "")
                value = getattr(record, f.name)
                text = ", ".join(map(str, value)) if isinstance(value, tuple) else str(value)
                rows.append((f"{table}.{f.name}", text, unit))
        return rows


def profile_path(name_or_path: str | Path | None = None) -> Path:
    """The file of a profile given by name (a TOML in this package) or by path."""
    if name_or_path is None or str(name_or_path) == "":
        return PACKAGE_DIR / "pln_default.toml"
    candidate = Path(name_or_path)
    if candidate.suffix == ".toml" or candidate.exists():
        if not candidate.exists():
            raise FileNotFoundError(f"meter profile {candidate} does not exist")
        return candidate
    packaged = PACKAGE_DIR / f"{name_or_path}.toml"
    if not packaged.exists():
        known = ", ".join(sorted(p.stem for p in PACKAGE_DIR.glob("*.toml")))
        raise FileNotFoundError(f"no meter profile named {name_or_path!r} (known: {known})")
    return packaged


def _build(cls: type, table: str, data: dict[str, Any], path: Path) -> Any:
    names = {f.name: f for f in fields(cls)}
    unknown = sorted(set(data) - set(names))
    if unknown:
        raise ValueError(f"{path.name}: unknown key '{table}.{unknown[0]}' "
                         f"(known in [{table}]: {', '.join(names)})")
    missing = sorted(set(names) - set(data))
    if missing:
        raise ValueError(f"{path.name}: missing key '{table}.{missing[0]}'")
    values = {}
    for name, f in names.items():
        value = data[name]
        want = f.type if isinstance(f.type, str) else getattr(f.type, "__name__", "")
        if want == "float" and isinstance(value, int) and not isinstance(value, bool):
            value = float(value)
        elif want.startswith("tuple"):
            if not isinstance(value, list) or not all(
                    isinstance(x, int) and not isinstance(x, bool) for x in value):
                raise ValueError(f"{path.name}: '{table}.{name}' must be a list of integers, "
                                 f"got {value!r}")
            value = tuple(value)
        elif want in ("int", "float", "bool", "str") and type(value).__name__ != want:
            raise ValueError(f"{path.name}: '{table}.{name}' must be {want}, got {value!r}")
        values[name] = value
    return cls(**values)


def load_profile(name_or_path: str | Path | None = None) -> MeterProfile:
    """Load and check a profile: `None`/"pln_default" is the packaged PLN default."""
    path = profile_path(name_or_path)
    with path.open("rb") as fh:
        data = tomllib.load(fh)
    unknown = sorted(set(data) - set(_TABLES))
    if unknown:
        raise ValueError(f"{path.name}: unknown table [{unknown[0]}] "
                         f"(known: {', '.join(_TABLES)})")
    missing = sorted(set(_TABLES) - set(data))
    if missing:
        raise ValueError(f"{path.name}: missing table [{missing[0]}]")
    parts = {t: _build(cls, t, data[t], path) for t, cls in _TABLES.items()}
    profile = MeterProfile(name=path.stem, source=str(path), **parts)
    _check_values(profile, path)
    return profile


def _check_values(p: MeterProfile, path: Path) -> None:
    """Values no meter can declare (negative times, impossible subclasses, ...)."""
    problems = []
    for table in _TABLES:
        record = getattr(p, table)
        for f in fields(record):
            value = getattr(record, f.name)
            if isinstance(value, int | float) and not isinstance(value, bool) and value < 0:
                problems.append(f"'{table}.{f.name}' must not be negative, got {value}")
    if not set(p.tokens.credit_subclasses) <= set(range(8)):
        problems.append(f"'tokens.credit_subclasses' must be within 0..7, "
                        f"got {list(p.tokens.credit_subclasses)}")
    if p.tokens.tid_store_depth < 1:
        problems.append("'tokens.tid_store_depth' must be at least 1")
    if p.lockout.threshold < 1 or p.lockout.factor < 1:
        problems.append("'lockout.threshold' and 'lockout.factor' must be at least 1")
    if p.relay.spread_s > p.relay.operate_s:
        problems.append("'relay.spread_s' must not exceed 'relay.operate_s'")
    mid = p.meter.optical_manufacturer_id
    if len(mid) != 3 or not mid.isalpha():
        problems.append(f"'meter.optical_manufacturer_id' must be 3 letters, got {mid!r}")
    if len(p.optical.baud_char) != 1 or p.optical.baud_char not in "0123456":
        problems.append(f"'optical.baud_char' must be one of 0-6, got {p.optical.baud_char!r}")
    if problems:
        raise ValueError(f"{path.name}: {problems[0]}")
