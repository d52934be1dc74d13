"""A meter's declared values: the numbers IEC 62055 and SPLN D3.009-1 leave to the maker,
and the facts table saying where this model gives each fact a plan asks for.

The emulated meter takes its behaviour from a profile, and the conformance plans test a real
meter against the profile its maker declares, so the same file serves both. Loading is
strict (pydantic v2): an unknown table or key, a string where a number belongs or a value out
of range is one error line naming the file and the dotted key, so a typo never silently falls
back to a default.
"""

from __future__ import annotations

import os
import stat
import tomllib
from dataclasses import fields
from pathlib import Path
from typing import Annotated, Any

from pydantic import (
    BeforeValidator,
    ConfigDict,
    Field,
    Strict,
    StrictBool,
    StrictInt,
    StrictStr,
    TypeAdapter,
)
from pydantic import ValidationError as _ValidationError
from pydantic.dataclasses import dataclass

from meterprofile.fact_catalogue import FACTS, OUTCOMES
from meterprofile.fact_sources import (
    DisplaySource,
    InstrumentSource,
    NoSource,
    OperatorSource,
    RegisterSource,
    declaration,
    register_facts,
)

__all__ = [
    "Accuracy", "Alarm", "Display", "DisplaySource", "FactSource", "InstrumentSource",
    "Lockout", "MeterInfo", "MeterProfile", "NoSource", "OperatorSource", "Optical", "Overload",
    "Ratings", "RegisterSource", "Relay", "Tamper", "Tokens", "load_profile", "profile_path",
]

PACKAGE_DIR = Path(__file__).resolve().parent

_CONFIG = ConfigDict(extra="forbid")
Float = Annotated[float, Strict(), Field(ge=0)]
Int = Annotated[StrictInt, Field(ge=0)]
Str = StrictStr
Bool = StrictBool
Subclasses = Annotated[tuple[Annotated[StrictInt, Field(ge=0, le=7)], ...],
                       BeforeValidator(lambda v: tuple(v) if isinstance(v, list) else v)]


@dataclass(frozen=True, config=_CONFIG)
class MeterInfo:
    model: Str
    manufacturer: Str
    firmware: Str
    optical_manufacturer_id: Annotated[Str, Field(pattern=r"^[A-Za-z]{3}$")]


@dataclass(frozen=True, config=_CONFIG)
class Ratings:
    voltage_v: Float
    frequency_hz: Float
    basic_current_a: Float
    max_current_a: Float
    accuracy_class: Float
    meter_constant_imp_kwh: Int
    contracted_va: Int


@dataclass(frozen=True, config=_CONFIG)
class Display:
    """The display: resolution, the message shown for each entry outcome, how long a result
    message stays up (0: until the next key), and the LCD layout for the camera reader."""

    credit_resolution_kwh: Float
    messages: dict[Str, Str] = Field(default_factory=dict)
    message_hold_s: Float = 0.0
    lcd: dict[Str, Any] | None = None

    def message(self, outcome: str) -> str:
        """The message this meter shows for `outcome` (KeyError naming it if undeclared)."""
        try:
            return self.messages[outcome]
        except KeyError:
            raise KeyError(f"display.messages declares no message for {outcome}") from None


@dataclass(frozen=True, config=_CONFIG)
class Tokens:
    tid_store_depth: Annotated[StrictInt, Field(ge=1)]
    entry_timeout_s: Float
    credit_subclasses: Subclasses
    max_credit_kwh: Float
    key_expiry: Bool
    phase_unbalance: Bool
    press_ms: Int
    gap_ms: Int
    #: the meter takes a 128-bit (EA11) key change, the 4-token set (IEC 62055-41 6.3.16,
    #: 6.3.17); false: 64-bit keys only, a 4th section is refused; unset: not declared
    key_change_128bit: Bool | None = None


@dataclass(frozen=True, config=_CONFIG)
class Lockout:
    threshold: Annotated[StrictInt, Field(ge=1)]
    first_s: Float
    factor: Annotated[float, Strict(), Field(ge=1)]
    cap_s: Float
    reset_on_power_cycle: Bool

    def duration(self, refusals: int) -> float:
        """Lock-out after `refusals` consecutive refused tokens (0 when below threshold)."""
        if refusals < self.threshold:
            return 0.0
        return min(self.first_s * self.factor ** (refusals - self.threshold), self.cap_s)


@dataclass(frozen=True, config=_CONFIG)
class Relay:
    disconnect_credit_kwh: Float
    operate_s: Float
    spread_s: Float
    operate_limit_s: Float
    reconnect_limit_s: Float
    test_duration_s: Float


@dataclass(frozen=True, config=_CONFIG)
class Overload:
    power_limit_w: Int
    trip_delay_s: Float
    reconnect_s: Float
    max_trips: Int
    window_s: Float


@dataclass(frozen=True, config=_CONFIG)
class Alarm:
    low_credit_kwh: Float
    repeat_min: Int


@dataclass(frozen=True, config=_CONFIG)
class Tamper:
    refuse_credit: Bool
    leak_threshold_a: Float
    idle_display: Str | None = None  # shown while latched, no message up (None: undeclared)


@dataclass(frozen=True, config=_CONFIG)
class Accuracy:
    display_tolerance_pct: Float


@dataclass(frozen=True, config=_CONFIG)
class Optical:
    """The optical port; `diagnostic_registers`: registers an emulated meter offers for the
    emulator's own tests (bench times of relay and entries), which no plan reads."""

    baud_char: Annotated[Str, Field(pattern=r"^[0-6]$")]
    password: Str
    reaction_ms: Int
    # the device address the meter answers in a sign-on request (/?address!): "DRN" for its
    # meter number, else the address itself; None: not declared (addressing not tested)
    device_address: Str | None = None
    diagnostic_registers: Annotated[tuple[Str, ...], BeforeValidator(
        lambda v: tuple(v) if isinstance(v, list) else v)] = ()


# --- where a fact comes from: meterprofile/fact_sources.py ---------------------------------

#: one fact's declaration: a dict from the TOML becomes the class registered under its tag
FactSource = Annotated[Any, BeforeValidator(declaration)]

_TABLES: dict[str, type] = {
    "meter": MeterInfo, "ratings": Ratings, "display": Display, "tokens": Tokens,
    "lockout": Lockout, "relay": Relay, "overload": Overload, "alarm": Alarm,
    "tamper": Tamper, "accuracy": Accuracy, "optical": Optical,
}

_UNITS = {"_v": "V", "_hz": "Hz", "_a": "A", "_s": "s", "_w": "W", "_kwh": "kWh", "_va": "VA",
          "_ms": "ms", "_pct": "%", "_min": "min", "_imp_kwh": "imp/kWh"}


@dataclass(frozen=True, config=ConfigDict(extra="forbid", arbitrary_types_allowed=True))
class MeterProfile:
    """Every declared value of one meter model, one dataclass per TOML table, and its facts."""

    name: Str
    source: Str
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
    facts: dict[Str, FactSource] = Field(default_factory=dict)

    def fact_source(self, name: str) -> Any:
        """Where this model gives fact `name` (NoSource when the profile does not say)."""
        return self.facts.get(name, NoSource(source="none"))

    def register_facts(self) -> dict[str, RegisterSource]:
        """The facts this model offers on its optical port, by fact name."""
        return register_facts(self.facts)

    def as_table(self) -> list[tuple[str, str, str]]:
        """(key, value, unit) rows for the report, e.g. ("relay.operate_s", "0.03", "s"),
        then one row per fact saying where it comes from."""
        rows = []
        for table in _TABLES:
            record = getattr(self, table)
            for f in fields(record):
                value = getattr(record, f.name)
                if isinstance(value, dict) or value is None or f.name == "diagnostic_registers":
                    continue
                unit = next((u for suffix, u in sorted(_UNITS.items(), key=lambda kv: -len(kv[0]))
                             if f.name.endswith(suffix)), "")
                text = ", ".join(map(str, value)) if isinstance(value, tuple) else str(value)
                rows.append((f"{table}.{f.name}", text, unit))
        for name in FACTS:
            rows.append((f"facts.{name}", describe_source(self.fact_source(name)),
                         FACTS[name].unit))
        return rows


def describe_source(src: Any) -> str:
    """One short line: `register C.50.0`, `display code 41 (number)`, `instrument ...`
    (each declaration class says it: `describe`)."""
    return src.describe()


_ADAPTER = TypeAdapter(MeterProfile)


def profile_path(name_or_path: str | Path | None = None, beside: Path | None = None) -> Path:
    """The file of a profile given by name (a TOML in this package) or by path; a relative
    `.toml` path named in a bench file is looked for `beside` that file first. The one place
    a profile reference is resolved (the rig, its commands, the emulator and the report)."""
    if name_or_path is None or str(name_or_path) == "":
        return PACKAGE_DIR / "pln_default.toml"
    if beside is not None:
        near = Path(beside) / name_or_path
        if near.suffix == ".toml" and near.exists():
            return near
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


def _one_line(exc: _ValidationError, path: Path, within: tuple[str, ...] = ()) -> str:
    """The first pydantic error as `file: 'dotted.key' what is wrong, got value` (an unknown
    key first: a misspelt key is also reported missing under its right name)."""
    errors = exc.errors()
    unknown = [e for e in errors if e["type"] in ("unexpected_keyword_argument",
                                                  "extra_forbidden")]
    err = (unknown or errors)[0]
    loc = [*within, *(str(x) for x in err["loc"])]
    key = ".".join(loc)
    kind = err["type"]
    if kind in ("unexpected_keyword_argument", "extra_forbidden"):
        if len(loc) == 1:
            return f"{path.name}: unknown table [{key}] (known: {', '.join(_TABLES)}, facts)"
        return f"{path.name}: unknown key '{key}'"
    if kind in ("missing", "missing_argument"):
        return f"{path.name}: missing {'table' if len(loc) == 1 else 'key'} '{key}'"
    want = {"int_type": "int", "float_type": "float", "string_type": "str",
            "bool_type": "bool"}.get(kind)
    if want:
        return f"{path.name}: '{key}' must be {want}, got {err.get('input')!r}"
    if kind == "greater_than_equal" and err.get("ctx", {}).get("ge") == 0:
        return f"{path.name}: '{key}' must not be negative, got {err.get('input')!r}"
    if kind == "less_than_equal" and key.startswith("tokens.credit_subclasses"):
        return f"{path.name}: 'tokens.credit_subclasses' must be within 0..7, got " \
               f"{err.get('input')!r}"
    if key == "meter.optical_manufacturer_id":
        return f"{path.name}: '{key}' must be 3 letters, got {err.get('input')!r}"
    if key == "optical.baud_char":
        return f"{path.name}: '{key}' must be one of 0-6, got {err.get('input')!r}"
    return f"{path.name}: '{key}': {err['msg']}, got {err.get('input')!r}"


PROFILE_MAX = 1024 * 1024  # bytes: a profile is a few pages of TOML


def _profile_text(path: Path) -> str:
    """The profile file's text, read bounded: opened without blocking (a FIFO never hangs
    the open), refused unless a regular file (/dev/zero never ends), at most PROFILE_MAX
    bytes. (drivers.bounded_read does this for the rig; a profile is below the drivers.)"""
    fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | os.O_CLOEXEC)
    try:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            raise ValueError(f"meter profile {path} is not a regular file")
        data = b""
        while len(data) <= PROFILE_MAX:
            chunk = os.read(fd, PROFILE_MAX + 1 - len(data))
            if not chunk:
                break
            data += chunk
    finally:
        os.close(fd)
    if len(data) > PROFILE_MAX:
        raise ValueError(f"meter profile {path} holds more than {PROFILE_MAX} bytes")
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise ValueError(f"{path.name}: not UTF-8 text (byte {exc.start} of the file)"
                         ) from None


def load_profile(name_or_path: str | Path | None = None,
                 beside: Path | None = None) -> MeterProfile:
    """Load and check a profile: `None`/"pln_default" is the packaged PLN default (a path
    relative to a bench file: give its folder as `beside`)."""
    path = profile_path(name_or_path, beside)
    try:
        data = tomllib.loads(_profile_text(path))
    except tomllib.TOMLDecodeError as exc:
        raise ValueError(f"{path.name}: not valid TOML: {exc}") from None
    unknown = sorted(set(data) - set(_TABLES) - {"facts"})
    if unknown:
        raise ValueError(f"{path.name}: unknown table [{unknown[0]}] "
                         f"(known: {', '.join(_TABLES)}, facts)")
    missing = sorted(set(_TABLES) - set(data))
    if missing:
        raise ValueError(f"{path.name}: missing table [{missing[0]}]")
    data["facts"] = _declarations(data.get("facts", {}), path)
    try:
        profile = _ADAPTER.validate_python({"name": path.stem, "source": str(path), **data})
    except _ValidationError as exc:
        raise ValueError(_one_line(exc, path)) from None
    _check_values(profile, path)
    return profile


def _declarations(tables: Any, path: Path) -> dict[str, Any]:
    """Each `[facts.<name>]` table as its declaration object (fact_sources.DECLARATIONS),
    a bad one as one error line naming the file and `facts.<name>.<key>`."""
    if not isinstance(tables, dict):
        raise ValueError(f"{path.name}: [facts] must be a table of facts")
    found = {}
    for name, table in tables.items():
        try:
            found[name] = declaration(table)
        except _ValidationError as exc:
            raise ValueError(_one_line(exc, path, ("facts", name))) from None
        except ValueError as exc:
            raise ValueError(f"{path.name}: 'facts.{name}': {exc}") from None
    return found


def _check_values(p: MeterProfile, path: Path) -> None:
    """Cross-field rules no single key can carry."""
    problems = []
    if p.relay.spread_s > p.relay.operate_s:
        problems.append("'relay.spread_s' must not exceed 'relay.operate_s'")
    for outcome in p.display.messages:
        if outcome not in OUTCOMES:
            problems.append(f"'display.messages.{outcome}' is no entry outcome "
                            f"(known: {', '.join(OUTCOMES)})")
    for name, src in p.facts.items():
        if name not in FACTS:
            problems.append(f"unknown fact 'facts.{name}' (known: {', '.join(FACTS)})")
            continue
        problems += src.problems(name, FACTS[name].kind, p.display.messages)
    addresses = [s.address for s in p.register_facts().values()]
    for address in addresses:
        if addresses.count(address) > 1:
            problems.append(f"register {address} is declared for two facts")
            break
    if problems:
        raise ValueError(f"{path.name}: {problems[0]}")
