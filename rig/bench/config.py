"""The bench file (TOML): which meter, ports, instruments and keys; who tests, where, for whom.

A bench file is checked against a typed schema (pydantic, strict) before anything is opened:
no string is taken for a number, no boolean for a whole number, every value has its range,
and an unknown table or key is refused. Each error is one line naming the file, the dotted key
and what was expected, e.g. ``bench.toml: keypad.press_ms: expected a number greater than 0,
got '65' (a string)``; several errors are several lines of one `ConfigError`. Secrets (the
vending key, the meter password) never appear in a message or a `repr`.

Tables (only [meter] is required; a key left out takes the default shown):

[bench]        name ("bench"), emulated (false), speed (1.0: the bench clock, N times real
               time; an emulated bench started elsewhere, `emulated = false` with the ports of a
               `rig emulate --speed N`, states its N here; a real bench leaves 1), faults ([]:
               fault names, emulated benches only)
[meter]        pan (18 digits, Luhn checked; none: the meter's own, read at bring-up with
               `rig run --meters FILE` or `--positions N`), optical (port; required on a
               non-emulated bench), profile ("pln_default", or a path), password
               ("00000000"), address (""), camera (none: a camera spec,
               "http://127.0.0.1:8080/capture", "v4l2:/dev/video0" or "0")
[meter.keys]   dkga "02"|"04", ea "07"|"11", sgc (six digits), ti (two digits), krn 1-9,
               kt 0-3, ken 0-255, base_date 1993|2014|2035, vending_key ("env:NAME",
               "file:PATH", or literal hex for public test keys only)
[meter.camera_calibration]  corners (four [x, y] pixel pairs of the LCD in the image:
               top-left, top-right, bottom-right, bottom-left), rotate 0|90|180|270 (0)
[keypad]       port, kind ("injector": our line protocol; another lowercase name is a relay
               board driver, checked by the driver registry), baud (115200), press_ms (65),
               gap_ms (500), sync_channel (relay channel of the scope sync line, held while
               ENTER is down), [keypad.map] (relay boards: key "0".."9", "BS", "ENT" -> channel)
[instruments.ROLE]  ROLE is source, load, dmm or scope: resource, model ("generic"),
               calibration_due (a TOML date, unquoted), timeout_ms (3000), channels (a
               scope wired otherwise than its model: {load_voltage = 1, enter_sync = 2});
               `ROLE = "RESOURCE"` is short for a table with only the resource
[safety]       terminals_open (false: true keeps the AC source output off)
[lab]          name, address, accreditation        [customer]  name, address, contact
[operator]     name                                [environment]  temperature_c,
               humidity_pct (0-100), supply_note   [report]  decision_rule "simple"|"guarded"
               ("simple"), title ("Test report")
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import re
import tomllib
import types
import typing
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Annotated, Any

from annotated_types import Ge, Gt, Le
from pydantic import (
    AfterValidator,
    AllowInfNan,
    ConfigDict,
    Strict,
    StringConstraints,
    TypeAdapter,
    ValidationError,
    WrapValidator,
)
from pydantic.dataclasses import dataclass as schema
from pydantic_core import PydanticCustomError

from drivers.bounded_read import InputRefused, read_file
from drivers.instruments.registry import roles
from sts.keys import VENDING_KEY_BYTES
from sts.tid import base_date_in_force

ROLES = roles()  # the instrument roles, from the model registry (drivers/instruments/)
KEY_NAMES = (*"0123456789", "BS", "ENT")
DEFAULT_BENCH = Path(__file__).resolve().parents[1] / "benches" / "emulated.toml"
SECRET_KEYS = frozenset({"meter.keys.vending_key", "meter.password"})


class ConfigError(ValueError):
    """A bench file that cannot be used; one line per problem, each naming the file and key."""

    def __init__(self, lines: str | Sequence[str]) -> None:
        self.lines = [lines] if isinstance(lines, str) else list(lines)
        super().__init__("\n".join(self.lines))


# --- typed values: each says in words what it expects ------------------------------------------

def _expect(phrase: str) -> WrapValidator:
    """Any failure of the wrapped check becomes one 'expected <phrase>' error."""

    def check(value: Any, handler: Callable[[Any], Any]) -> Any:
        try:
            return handler(value)
        except ValidationError:
            raise PydanticCustomError("expected", "{expected}", {"expected": phrase}) from None

    return WrapValidator(check)


def _one_of(*choices: Any) -> AfterValidator:
    def check(value: Any) -> Any:
        if value not in choices:
            raise ValueError("not one of the choices")
        return value

    return AfterValidator(check)


def _words(choices: Sequence[Any]) -> str:
    shown = [repr(c) for c in choices]
    return ", ".join(shown[:-1]) + " or " + shown[-1]


def _choice(base: type, *choices: Any) -> Any:
    return Annotated[base, Strict(), _one_of(*choices), _expect(_words(choices))]


def _rule(check: Callable[[Any], str | None]) -> AfterValidator:
    """A domain rule: `check` returns why the value is wrong, or None."""

    def run(value: Any) -> Any:
        why = check(value)
        if why:
            raise PydanticCustomError("rule", "{why}", {"why": why})
        return value

    return AfterValidator(run)


Text = Annotated[str, Strict(), _expect("a string")]
Name = Annotated[str, Strict(), StringConstraints(min_length=1), _expect("a non-empty string")]
Flag = Annotated[bool, Strict(), _expect("true or false")]
Number = Annotated[float, Strict(), AllowInfNan(False)]  # TOML inf and nan are no readings
Speed = Annotated[Number, Gt(0), _expect("a number greater than 0")]
PositiveMs = Annotated[Number, Gt(0), _expect("a number greater than 0")]
GapMs = Annotated[Number, Ge(0), _expect("a number of 0 or more")]
TimeoutMs = Annotated[int, Strict(), Gt(0), _expect("a whole number greater than 0")]
Baud = Annotated[int, Strict(), Gt(0), _expect("a whole number greater than 0")]
Channel = Annotated[int, Strict(), Ge(1), _expect("a whole number of 1 or more")]
Krn = Annotated[int, Strict(), Ge(1), Le(9), _expect("a whole number from 1 to 9")]
Kt = Annotated[int, Strict(), Ge(0), Le(3), _expect("a whole number from 0 to 3")]
Ken = Annotated[int, Strict(), Ge(0), Le(255), _expect("a whole number from 0 to 255")]
Ti = Annotated[str, Strict(), StringConstraints(pattern=r"^[0-9]{2}$"),
               _expect("two digits in quotes, e.g. '01'")]
Sgc = Annotated[str, Strict(), StringConstraints(pattern=r"^[0-9]{6}$"),
                _expect("six digits in quotes, e.g. '123456'")]
DueDate = Annotated[dt.date, Strict(), _expect("a TOML date such as 2027-03-01 (unquoted)")]
Faults = Annotated[tuple[Annotated[str, Strict(), StringConstraints(min_length=1)], ...],
                   _expect("a list of fault names, e.g. ['late-relay']")]
DriverName = Annotated[str, Strict(), StringConstraints(pattern=r"^[a-z][a-z0-9_.-]*$"),
                       _expect("a lowercase driver name, e.g. 'injector'")]
Pixel = Annotated[Number, Ge(0)]
Corners = Annotated[tuple[tuple[Pixel, Pixel], tuple[Pixel, Pixel], tuple[Pixel, Pixel],
                          tuple[Pixel, Pixel]],
                    _expect("four [x, y] pixel pairs (numbers of 0 or more): top-left, "
                            "top-right, bottom-right, bottom-left")]
Celsius = Annotated[Number, Ge(-50), Le(100),
                    _expect("a number of degrees Celsius from -50 to 100")]
Percent = Annotated[Number, Ge(0), Le(100), _expect("a number from 0 to 100")]
KeyName = Annotated[str, Strict(), _one_of(*KEY_NAMES), _expect("a key name 0-9, BS or ENT")]
Dkga = _choice(str, "02", "04")
Ea = _choice(str, "07", "11")
BaseDate = _choice(int, 1993, 2014, 2035)
Rotation = _choice(int, 0, 90, 180, 270)
DecisionRule = _choice(str, "simple", "guarded")


def _pan_problem(pan: str) -> str | None:
    from sts import KeyFormatError, MeterPAN

    try:
        MeterPAN.parse(pan)
    except KeyFormatError as exc:
        return str(exc)
    return None


_ENV_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


def _vending_key_problem(ref: str) -> str | None:
    """The reference's form only: the key itself is read when a token is made (rig.meter.vendor)."""
    ref = ref.strip()
    if not ref:
        return None
    if ref.startswith("env:"):
        if _ENV_NAME.fullmatch(ref[4:].strip()):
            return None
        return "expected env:NAME with NAME an environment variable name"
    if ref.startswith("file:"):
        return None if ref[5:].strip() else "expected file:PATH with a path after file:"
    digits = "".join(ref.split())
    hex_lengths = {2 * size for size in VENDING_KEY_BYTES.values()}
    if re.fullmatch(r"[0-9A-Fa-f]+", digits) and len(digits) in hex_lengths:
        return None
    return ("expected env:NAME, file:PATH or a literal test key of 16 (DKGA02) or 40 (DKGA04) "
            f"hex digits, got a string of {len(ref)} characters")


Pan = Annotated[str, Strict(), _expect("18 digits in quotes"), _rule(_pan_problem)]
VendingKeyRef = Annotated[str, Strict(), _expect("a string: env:NAME, file:PATH or hex"),
                          _rule(_vending_key_problem)]


# --- the tables ---------------------------------------------------------------------------------

FORBID = ConfigDict(extra="forbid")


@schema(frozen=True, config=FORBID)
class BenchInfo:
    name: Name = "bench"
    emulated: Flag = False
    speed: Speed = 1.0
    faults: Faults = ()


@schema(frozen=True, config=FORBID)
class MeterKeys:
    dkga: Dkga = "02"
    ea: Ea = "07"
    sgc: Sgc = "123456"
    ti: Ti = "01"
    krn: Krn = 1
    kt: Kt = 2
    ken: Ken = 255
    # absent: the base date a vending system uses today (2014 since 2024-11-24), not 1993,
    # whose TIDs ran out then
    base_date: BaseDate = dataclasses.field(default_factory=lambda: base_date_in_force(
        dt.datetime.now()))
    vending_key: VendingKeyRef = dataclasses.field(default="", repr=False)
    # a DKGA04 vending key for the 128-bit (EA11) key change plan, where the meter's own is
    # DKGA02 (which makes 64-bit keys only); absent: that plan is skipped, naming it
    vending_key_128bit: VendingKeyRef = dataclasses.field(default="", repr=False)


@schema(frozen=True, config=FORBID)
class CameraCalibration:
    """Where the LCD is in the camera image, and how the image is turned."""

    corners: Corners
    rotate: Rotation = 0


@schema(frozen=True, config=FORBID)
class MeterConfig:
    pan: Pan | None = None  # absent: read from the meter at bring-up (`rig run --meters`)
    optical: Name | None = None
    profile: Name = "pln_default"
    password: Text = dataclasses.field(default="00000000", repr=False)
    address: Text = ""
    camera: Name | None = None
    camera_calibration: CameraCalibration | None = None
    keys: MeterKeys = dataclasses.field(default_factory=MeterKeys)


@schema(frozen=True, config=FORBID)
class KeypadConfig:
    port: Name | None = None
    kind: DriverName = "injector"
    baud: Baud = 115200
    press_ms: PositiveMs = 65.0
    gap_ms: GapMs = 500.0
    map: dict[KeyName, Channel] | None = None
    sync_channel: Channel | None = None


@schema(frozen=True, config=FORBID)
class InstrumentConfig:
    resource: Name | None = None
    model: Name = "generic"
    calibration_due: DueDate | None = None
    timeout_ms: TimeoutMs = 3000
    channels: dict[Name, Channel] | None = None  # named channel -> input, if wired otherwise


# one optional table per instrument role the registry knows
Instruments = schema(frozen=True, config=FORBID)(dataclasses.make_dataclass(
    "Instruments", [(role, InstrumentConfig | None, None) for role in ROLES], frozen=True))


@schema(frozen=True, config=FORBID)
class Safety:
    terminals_open: Flag = False


@schema(frozen=True, config=FORBID)
class Lab:
    """The testing laboratory named on the report."""

    name: Name
    address: Text | None = None
    accreditation: Text | None = None


@schema(frozen=True, config=FORBID)
class Customer:
    """Who the meter is tested for."""

    name: Name
    address: Text | None = None
    contact: Text | None = None


@schema(frozen=True, config=FORBID)
class Operator:
    name: Name


@schema(frozen=True, config=FORBID)
class Environment:
    """The test conditions as noted by the operator."""

    temperature_c: Celsius | None = None
    humidity_pct: Percent | None = None
    supply_note: Text | None = None


@schema(frozen=True, config=FORBID)
class ReportSettings:
    """How the report states a verdict (simple acceptance, or guarded by the uncertainty)."""

    decision_rule: DecisionRule = "simple"
    title: Name = "Test report"


@schema(frozen=True, config=FORBID)
class BenchFile:
    """The file as written: the schema `load_bench` validates against."""

    meter: MeterConfig
    bench: BenchInfo = dataclasses.field(default_factory=BenchInfo)
    keypad: KeypadConfig | None = None
    instruments: Instruments = dataclasses.field(default_factory=Instruments)
    safety: Safety = dataclasses.field(default_factory=Safety)
    lab: Lab | None = None
    customer: Customer | None = None
    operator: Operator | None = None
    environment: Environment | None = None
    report: ReportSettings = dataclasses.field(default_factory=ReportSettings)


@dataclasses.dataclass(frozen=True)
class BenchConfig:
    """A checked bench file; `instruments` maps each role present to its settings."""

    path: Path
    bench: BenchInfo
    meter: MeterConfig
    keypad: KeypadConfig | None
    instruments: dict[str, InstrumentConfig]
    safety: Safety
    lab: Lab | None = None
    customer: Customer | None = None
    operator: Operator | None = None
    environment: Environment | None = None
    report: ReportSettings = dataclasses.field(default_factory=ReportSettings)

    def profile_ref(self, override: str | None = None) -> tuple[str | Path, Path | None]:
        """(the meter profile's name or path, the folder a relative path is read from): the
        one given on the command line (`override`, from the current folder), else the bench
        file's [meter] profile, a relative path being beside the bench file."""
        if override:
            return override, None
        return self.meter.profile, Path(self.path).parent

    def profile_path(self, override: str | None = None) -> Path:
        """The meter profile's file (meterprofile.profile_path of `profile_ref`)."""
        from meterprofile import profile_path

        return profile_path(*self.profile_ref(override))

    def load_profile(self, override: str | None = None) -> Any:
        """The meter profile, loaded and checked (meterprofile.load_profile of
        `profile_ref`); ValueError or OSError naming what is wrong."""
        from meterprofile import load_profile

        return load_profile(*self.profile_ref(override))

    def with_endpoints(self, endpoints: dict[str, Any]) -> BenchConfig:
        """The same bench with the ports/resources an emulator announced filled in."""
        meter = dataclasses.replace(self.meter, optical=endpoints["optical"])
        keypad = dataclasses.replace(self.keypad or KeypadConfig(), port=endpoints["keypad"])
        instruments = {
            role: dataclasses.replace(cfg, resource=endpoints["instruments"][role])
            for role, cfg in self.instruments.items() if role in endpoints["instruments"]
        }
        return dataclasses.replace(self, meter=meter, keypad=keypad, instruments=instruments)


_SCHEMA = TypeAdapter(BenchFile)
BENCH_FILE_MAX = 1024 * 1024  # bytes: a bench file is a page of TOML


# --- loading ------------------------------------------------------------------------------------

def load_bench(path: str | Path | None = None) -> BenchConfig:
    """Parse and check a bench file; None is the packaged emulated bench."""
    path = Path(path) if path else DEFAULT_BENCH
    if not path.exists():
        raise ConfigError(f"bench file {path} does not exist")
    try:  # bounded: a FIFO or /dev/zero named as the bench file is refused, never read
        raw = read_file(path, BENCH_FILE_MAX, what="bench file")
    except InputRefused as exc:
        raise ConfigError(str(exc)) from None
    try:
        data = tomllib.loads(raw.decode("utf-8"))
    except UnicodeDecodeError as exc:
        raise ConfigError(f"{path.name}: not UTF-8 text (byte {exc.start} of the file)"
                          ) from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path.name}: not valid TOML: {exc}") from None
    instruments = data.get("instruments")
    if isinstance(instruments, dict):  # `source = "RESOURCE"` is short for a table
        data["instruments"] = {role: {"resource": value} if isinstance(value, str) else value
                               for role, value in instruments.items()}
    try:
        parsed = _SCHEMA.validate_python(data)
    except ValidationError as exc:
        raise ConfigError([f"{path.name}: {_describe(err)}" for err in exc.errors()]) from None
    config = BenchConfig(
        path=path, bench=parsed.bench, meter=parsed.meter, keypad=parsed.keypad,
        instruments={role: getattr(parsed.instruments, role) for role in ROLES
                     if getattr(parsed.instruments, role) is not None},
        safety=parsed.safety, lab=parsed.lab, customer=parsed.customer,
        operator=parsed.operator, environment=parsed.environment, report=parsed.report)
    problems = _bench_problems(config)
    if problems:
        raise ConfigError([f"{path.name}: {line}" for line in problems])
    return config


def _bench_problems(config: BenchConfig) -> list[str]:
    """The rules across keys and against the driver registry, after the types are right."""
    from drivers.instruments import MODELS

    out = []
    for role, cfg in config.instruments.items():
        if cfg.model not in MODELS[role]:
            out.append(f"instruments.{role}.model: expected a known {role} model "
                       f"({', '.join(MODELS[role])}), got {cfg.model!r} (a string)")
        elif cfg.channels:
            named = getattr(MODELS[role][cfg.model], "CHANNELS", {})
            for name in cfg.channels:
                if name not in named:
                    out.append(f"instruments.{role}.channels.{name}: expected a channel "
                               f"name of the {role} ({', '.join(named) or 'none'})")
    keypad = config.keypad
    if keypad is not None and keypad.kind == "injector":
        for key in ("map", "sync_channel"):
            if getattr(keypad, key) is not None:
                out.append(f"keypad.{key}: relay channels apply to a relay board; the "
                           "injector (keypad.kind = 'injector') takes none")
    if keypad is not None and keypad.map:
        seen: dict[int, str] = {}
        for key, channel in keypad.map.items():
            if channel in seen:
                out.append(f"keypad.map.{key}: channel {channel} is already key {seen[channel]}")
            seen.setdefault(channel, key)
        if keypad.sync_channel in seen:
            out.append(f"keypad.sync_channel: channel {keypad.sync_channel} is already key "
                       f"{seen[keypad.sync_channel]}")
    if config.bench.emulated:
        if any(cfg.resource for cfg in config.instruments.values()) or config.meter.optical:
            out.append("an emulated bench takes its ports from the emulator; remove "
                       "meter.optical and instrument resources, or set bench.emulated = false")
        return out
    if config.bench.faults:
        out.append("bench.faults: faults can only be switched on in an emulated bench "
                   "(bench.emulated = true)")
    if not config.meter.optical:
        out.append("missing key 'meter.optical' (the optical port of a real bench, "
                   "e.g. /dev/ttyUSB0)")
    if keypad is not None and not keypad.port:
        out.append("missing key 'keypad.port'")
    for role, cfg in config.instruments.items():
        if not cfg.resource:
            out.append(f"missing key 'instruments.{role}.resource'")
    return out


# --- one line per validation error --------------------------------------------------------------

def _describe(err: Any) -> str:
    loc = [str(part) for part in err["loc"]]
    kind = err["type"]
    if kind in ("unexpected_keyword_argument", "extra_forbidden"):
        known = ", ".join(_keys_of(_node_at(loc[:-1])))
        if len(loc) == 1:
            return f"unknown table [{loc[0]}] (known: {known})"
        return f"unknown key {'.'.join(loc)!r} (known: {known})"
    if loc and loc[-1] == "[key]":  # a key of a free-form table (keypad.map)
        return f"unknown key {'.'.join(loc[:-1])!r} (known: {', '.join(KEY_NAMES)})"
    key = ".".join(loc)
    if kind in ("missing", "missing_keyword_argument"):
        if dataclasses.is_dataclass(_node_at(loc)):
            return f"missing table [{key}]"
        return f"missing key {key!r}"
    secret = key in SECRET_KEYS
    if kind == "rule":
        return f"{key}: {err['ctx']['why']}"
    if kind == "expected":
        return f"{key}: expected {err['ctx']['expected']}, got {_got(err['input'], secret)}"
    if kind in ("dataclass_type", "dataclass_exact_type", "dict_type"):
        return f"{key}: expected a table, got {_got(err['input'], secret)}"
    return f"{key}: {err['msg']}, got {_got(err['input'], secret)}"


_TOML_KINDS = ((bool, "a boolean"), (str, "a string"), (int, "an integer"), (float, "a float"),
               (dt.datetime, "a date-time"), (dt.date, "a date"), (dt.time, "a time"),
               (list, "an array"), (dict, "a table"))


def _got(value: Any, secret: bool = False) -> str:
    """The value as TOML shows it and its TOML kind; a secret's length only."""
    what = next((name for cls, name in _TOML_KINDS if isinstance(value, cls)),
                type(value).__name__)
    if secret:
        size = f" of {len(value)} characters" if isinstance(value, str) else ""
        return f"{what}{size}"
    return f"{_show(value)} ({what})"


def _show(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, dt.date | dt.time):
        return value.isoformat()
    if isinstance(value, list):
        return "[" + ", ".join(_show(v) for v in value) + "]"
    if isinstance(value, dict):
        return "{" + ", ".join(f"{k} = {_show(v)}" for k, v in value.items()) + "}"
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def _bare(tp: Any) -> Any:
    """A type without its Annotated metadata and without `| None`."""
    while True:
        origin = typing.get_origin(tp)
        if origin is Annotated:
            tp = typing.get_args(tp)[0]
        elif origin in (typing.Union, types.UnionType):
            tp = next(a for a in typing.get_args(tp) if a is not type(None))
        else:
            return tp


def _node_at(loc: Sequence[str]) -> Any:
    """The schema type at a dotted location (a table's class, a dict, a leaf type)."""
    tp: Any = BenchFile
    for part in loc:
        tp = _bare(tp)
        if dataclasses.is_dataclass(tp):
            tp = tp.__pydantic_fields__[part].annotation
        elif typing.get_origin(tp) is dict:
            tp = typing.get_args(tp)[1]
        else:
            return None
    return _bare(tp)


def _keys_of(tp: Any) -> list[str]:
    return [f.name for f in dataclasses.fields(tp)] if dataclasses.is_dataclass(tp) else []
