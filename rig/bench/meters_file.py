"""The meters file: what a meter cannot tell about itself, one CSV row per meter or per lot.

A meter tells its meter number (and so its PAN) at bring-up; its key data (SGC, TI, KRN, KT,
key expiry number, base date, DKGA, EA) it cannot tell, and it is no bench configuration: a
lab testing a lot of 50 meters keeps one meters file instead of editing the bench file 50
times. A row with a meter number (or a PAN) gives one meter; a row with an empty meter
number and a lot gives every meter of that lot, and a meter's own row overrides its lot's
row cell by cell. The vending key is not in this file: it is a secret of the vending side
and stays a reference in the bench file (`[meter.keys] vending_key`).

    meter_number,pan,lot,sgc,ti,krn,kt,ken,base_date,dkga,ea
    ,,L2026-11,123456,01,1,2,255,2014,02,07
    47123456783,,L2026-11,,,,,,,,
    ,000012345678901286,L2026-12,654321,07,2,2,,,04,11

The file is checked whole before any meter is tested (pydantic, strict): no value is guessed
(a TI of '1' is refused, not taken for '01'), an unknown column is refused, and every problem
is one line naming the file, the line and the column, e.g.
``meters.csv line 4: sgc '12345' is not 6 digits``.
"""

from __future__ import annotations

import csv
import dataclasses
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Annotated, Any

from pydantic import BaseModel, BeforeValidator, ConfigDict, ValidationError
from pydantic_core import PydanticCustomError

from drivers.bounded_read import InputRefused, read_file
from rig.bench.config import MeterKeys
from rig.record.safe_text import control_characters, visible
from sts.errors import KeyFormatError
from sts.pan import MeterPAN

#: the key columns, in MeterKeys' names (rig.bench.config)
KEY_COLUMNS = ("sgc", "ti", "krn", "kt", "ken", "base_date", "dkga", "ea")
COLUMNS = ("meter_number", "pan", "lot", *KEY_COLUMNS)
#: what every meter must get from the file (its own row or its lot's); the others take
#: MeterKeys' defaults (ken 255, the base date in force, dkga 02, ea 07)
REQUIRED_KEYS = ("sgc", "ti", "krn", "kt")


METERS_FILE_MAX = 16 * 1024 * 1024  # bytes: a lot of many thousand meters, one row each


class MetersFileError(ValueError):
    """A meters file that cannot be used; one line per problem, each naming file and line."""

    def __init__(self, lines: str | Sequence[str]) -> None:
        self.lines = [lines] if isinstance(lines, str) else list(lines)
        super().__init__("\n".join(self.lines))


class MeterNotInFile(MetersFileError, LookupError):
    """The meter on the position is in neither a row of its own nor a row of its lot."""


# --- one check per column: a cell's text to its value, or why it is wrong ----------------------

def _why(text: str) -> PydanticCustomError:
    return PydanticCustomError("rule", "{why}", {"why": text})


def _digits(size: int) -> Callable[[str], str]:
    def check(text: str) -> str:
        if not (text.isascii() and text.isdigit() and len(text) == size):
            raise _why(f"is not {size} digits")
        return text

    return check


def _whole(low: int, high: int) -> Callable[[str], int]:
    def check(text: str) -> int:
        if not (text.isascii() and text.isdigit()) or not low <= int(text) <= high:
            raise _why(f"is not a whole number from {low} to {high}")
        return int(text)

    return check


def _one_of(*choices: str) -> Callable[[str], str]:
    def check(text: str) -> str:
        if text not in choices:
            raise _why("is not " + ", ".join(choices[:-1]) + " or " + choices[-1])
        return text

    return check


def _meter_number(text: str) -> str:
    try:
        return MeterPAN.from_drn(text).drn  # 11 or 13 digits, Luhn check digit
    except KeyFormatError as exc:
        raise _why(f"is not a meter number ({exc})") from None


def _pan(text: str) -> str:
    try:
        return str(MeterPAN.parse(text).drn)
    except KeyFormatError as exc:
        raise _why(f"is not a MeterPAN ({exc})") from None


def _lot(text: str) -> str:
    if control_characters(text):
        raise _why("holds control characters")
    return text


def _cell(check: Callable[[str], Any]) -> BeforeValidator:
    """An empty cell is no value (None); any other is stripped and checked."""

    def run(value: Any) -> Any:
        if not isinstance(value, str):
            raise _why("is not text")
        text = value.strip()
        return None if not text else check(text)

    return BeforeValidator(run)


class _Row(BaseModel):
    """One data row, each cell checked by its column's rule."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    meter_number: Annotated[str | None, _cell(_meter_number)] = None
    pan: Annotated[str | None, _cell(_pan)] = None  # held as the meter number it names
    lot: Annotated[str | None, _cell(_lot)] = None
    sgc: Annotated[str | None, _cell(_digits(6))] = None
    ti: Annotated[str | None, _cell(_digits(2))] = None
    krn: Annotated[int | None, _cell(_whole(1, 9))] = None
    kt: Annotated[int | None, _cell(_whole(0, 3))] = None
    ken: Annotated[int | None, _cell(_whole(0, 255))] = None
    base_date: Annotated[int | None, _cell(_one_of("1993", "2014", "2035"))] = None
    dkga: Annotated[str | None, _cell(_one_of("02", "04"))] = None
    ea: Annotated[str | None, _cell(_one_of("07", "11"))] = None


@dataclasses.dataclass(frozen=True)
class MetersRow:
    """One row of the file: a meter's (meter_number set) or a lot's (meter_number None)."""

    line: int
    meter_number: str | None
    lot: str | None
    keys: dict[str, Any]  # the key cells given on this row, by MeterKeys name


@dataclasses.dataclass(frozen=True)
class MeterEntry:
    """What the file says of one meter: its lot and its keys, and the lines they came from."""

    meter_number: str
    lot: str | None
    keys: MeterKeys
    lines: tuple[int, ...]


def _shown(value: Any) -> str:
    text = visible(str(value))
    return repr(text if len(text) <= 40 else text[:37] + "...")


def _row_errors(name: str, line: int, cells: dict[str, str],
                exc: ValidationError) -> list[str]:
    out = []
    for err in exc.errors():
        column = str(err["loc"][0]) if err["loc"] else "?"
        why = err["ctx"]["why"] if err["type"] == "rule" else err["msg"]
        out.append(f"{name} line {line}: {column} {_shown(cells.get(column, ''))} {why}")
    return out


class MetersFile:
    """A checked meters file: its meter rows by meter number, its lot rows by lot."""

    def __init__(self, path: Path, meters: dict[str, MetersRow],
                 lots: dict[str, MetersRow]) -> None:
        self.path = Path(path)
        self.meters = meters
        self.lots = lots

    @classmethod
    def load(cls, path: str | Path) -> MetersFile:
        """Read and check the whole file; every problem of it in one MetersFileError."""
        path = Path(path)
        name = str(path)
        try:  # bounded: a FIFO or /dev/zero is refused, never read
            raw = read_file(path, METERS_FILE_MAX, what="meters file")
        except InputRefused as exc:
            raise MetersFileError(str(exc)) from None
        except OSError as exc:
            raise MetersFileError(f"{name}: cannot read: {exc.strerror or exc}") from None
        try:
            text = raw.decode("utf-8-sig")  # a spreadsheet's BOM is no part of a column name
        except UnicodeDecodeError as exc:
            line = raw[:exc.start].count(b"\n") + 1
            raise MetersFileError(f"{name} line {line}: not UTF-8 text (byte {exc.start} of "
                                  f"the file; save it as CSV UTF-8)") from None
        reader = csv.reader(text.splitlines(keepends=True), strict=True)
        try:
            records = [(reader.line_num, row) for row in reader]
        except csv.Error as exc:
            raise MetersFileError(f"{name} line {reader.line_num}: {exc}") from None
        records = [(n, r) for n, r in records
                   if any(c.strip() for c in r) and not r[0].lstrip().startswith("#")]
        if not records:
            raise MetersFileError(f"{name}: no header line (expected columns among: "
                                  f"{', '.join(COLUMNS)})")
        header_line, header = records[0]
        header = [h.strip().lower() for h in header]
        problems = cls._header_problems(name, header_line, header)
        if problems:
            raise MetersFileError(problems)
        meters: dict[str, MetersRow] = {}
        lots: dict[str, MetersRow] = {}
        for line, cells in records[1:]:
            if len(cells) != len(header):
                problems.append(f"{name} line {line}: {len(cells)} cells, the header "
                                f"(line {header_line}) has {len(header)}")
                continue
            given = dict(zip(header, cells, strict=True))
            try:
                row = _Row(**given)
            except ValidationError as exc:
                problems += _row_errors(name, line, given, exc)
                continue
            number = row.meter_number or row.pan
            if row.meter_number and row.pan and row.meter_number != row.pan:
                problems.append(f"{name} line {line}: pan {_shown(given['pan'])} is not the "
                                f"PAN of meter_number {row.meter_number} (its meter number is "
                                f"{row.pan})")
                continue
            keys = {k: getattr(row, k) for k in KEY_COLUMNS if getattr(row, k) is not None}
            entry = MetersRow(line=line, meter_number=number, lot=row.lot, keys=keys)
            if number:
                if number in meters:
                    problems.append(f"{name} line {line}: meter {number} is already on line "
                                    f"{meters[number].line}")
                meters.setdefault(number, entry)
            elif row.lot:
                if row.lot in lots:
                    problems.append(f"{name} line {line}: lot {_shown(row.lot)} already has "
                                    f"a row on line {lots[row.lot].line}")
                lots.setdefault(row.lot, entry)
            else:
                problems.append(f"{name} line {line}: neither a meter_number (or pan) nor a "
                                f"lot: the row applies to no meter")
        if problems:
            raise MetersFileError(problems)
        return cls(path, meters, lots)

    @staticmethod
    def _header_problems(name: str, line: int, header: list[str]) -> list[str]:
        out = []
        seen: set[str] = set()
        for column in header:
            if column not in COLUMNS:
                out.append(f"{name} line {line}: unknown column {_shown(column)} (known: "
                           f"{', '.join(COLUMNS)})")
            elif column in seen:
                out.append(f"{name} line {line}: column {column!r} appears twice")
            seen.add(column)
        if not seen & {"meter_number", "pan", "lot"}:
            out.append(f"{name} line {line}: no meter_number, pan or lot column: the rows "
                       f"would apply to no meter")
        return out

    def entry_for(self, meter: str, lot: str | None = None, *,
                  vending_key: str = "") -> MeterEntry:
        """The keys of `meter` (its meter number or its 18-digit PAN): its lot's row, then
        its own row over it. `lot` names the lot when the meter has no row of its own (a
        meter's own row that names another lot is refused). `vending_key` is the bench
        file's reference, carried into the keys unchanged."""
        number = self._number_of(meter)
        own = self.meters.get(number)
        if own is not None and own.lot and lot and own.lot != lot:
            raise MetersFileError(f"{self.path} line {own.line}: meter {number} is in lot "
                                  f"{_shown(own.lot)}, not in lot {_shown(lot)}")
        lot = own.lot if own is not None and own.lot else lot
        of_lot = self.lots.get(lot) if lot else None
        if own is None and of_lot is None:
            also = f", and lot {_shown(lot)} has no row" if lot else ""
            raise MeterNotInFile(f"{self.path}: meter {number} is not in the file{also}; "
                                 f"add a row with its meter number or its lot")
        rows = [r for r in (of_lot, own) if r is not None]
        values: dict[str, Any] = {}
        for row in rows:
            values.update(row.keys)
        missing = [k for k in REQUIRED_KEYS if k not in values]
        if missing:
            where = " and ".join(f"line {r.line}" for r in rows)
            raise MetersFileError(f"{self.path}: meter {number}: no {', '.join(missing)} on "
                                  f"its rows ({where})")
        keys = MeterKeys(**values, vending_key=vending_key)
        return MeterEntry(meter_number=number, lot=lot, keys=keys,
                          lines=tuple(r.line for r in rows))

    def keys_for(self, meter: str, lot: str | None = None, *,
                 vending_key: str = "") -> MeterKeys:
        """The MeterKeys of `meter` (meter number or PAN); MeterNotInFile if it has no row
        and its lot none either."""
        return self.entry_for(meter, lot, vending_key=vending_key).keys

    def _number_of(self, meter: str) -> str:
        text = str(meter).strip().replace(" ", "").replace("-", "")
        try:
            return (MeterPAN.parse(text) if len(text) == 18 else MeterPAN.from_drn(text)).drn
        except KeyFormatError as exc:
            raise MetersFileError(f"{self.path}: cannot look up meter {_shown(meter)}: "
                                  f"{exc}") from None


def load_meters(path: str | Path) -> MetersFile:
    """Read and check a meters file (MetersFile.load)."""
    return MetersFile.load(path)
