"""A meter model's LCD: where its digit cells and unit icons are, and its 7-segment font.

The camera reader (drivers/segment_reader.py) and the emulated bench's renderer
(emulator/lcd_render.py) share this page, so a meter's display is declared once, in its
profile's `[display.lcd]` table. Coordinates are fractions of the LCD glass: x from the left
edge (0) to the right edge (1), y from the top (0) to the bottom (1); a box is
`(x, y, width, height)`. Segment boxes are fractions of one digit cell.

What the LCD can show, and the rule for texts it cannot show exactly (`canonical`):

- a blank display: `""`;
- a number: digits, each optionally followed by a decimal point (`1.0.0` is fine), an optional
  leading `-`, right-aligned; a number longer than the cells keeps its rightmost cells (the
  meter scrolls typed digits to the left);
- a number with a unit the LCD has an icon for: `123.45 kWh` is the digits `123.45` with the
  kWh icon (`5 kWh` is the digit `5` and the icon);
- a phrase: words of `VOCABULARY` and digit groups separated by one blank cell, upper case
  (`30 min` is `30 MIN`); a phrase longer than the cells keeps its leading words that fit
  (`KRN 1 KT 2` on 8 cells is `KRN 1 KT`).

Pure data and functions: stdlib only.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

__all__ = [
    "DEFAULT_LAYOUT", "DIGIT_GLYPHS", "FONT", "SEGMENTS", "UNITS", "VOCABULARY", "Box",
    "LcdLayout", "Pattern", "canonical", "decode", "encode", "profile_layout",
]

Box = tuple[float, float, float, float]
SEGMENTS = ("a", "b", "c", "d", "e", "f", "g")  # a top, b top right, ..., f top left, g middle
DP = "dp"
UNITS = ("kWh", "V", "A", "W", "Hz")


def _glyph(segments: str) -> frozenset[str]:
    return frozenset(segments)


# The digits and the minus sign: a cell showing one of these reads as part of a number.
DIGIT_GLYPHS: dict[str, frozenset[str]] = {
    "0": _glyph("abcdef"), "1": _glyph("bc"), "2": _glyph("abdeg"), "3": _glyph("abcdg"),
    "4": _glyph("bcfg"), "5": _glyph("acdfg"), "6": _glyph("acdefg"), "7": _glyph("abc"),
    "8": _glyph("abcdefg"), "9": _glyph("abcdfg"), "-": _glyph("g"),
}
# Letters, as PLN meters draw them. O and S share the glyphs of 0 and 5, V that of u, K
# that of H: a word is read as a whole (every word has a glyph no digit has), never letter
# by letter, so that costs nothing.
LETTER_GLYPHS: dict[str, frozenset[str]] = {
    "A": _glyph("abcefg"), "B": _glyph("cdefg"), "C": _glyph("adef"), "D": _glyph("bcdeg"),
    "E": _glyph("adefg"), "G": _glyph("acdef"), "I": _glyph("ef"), "K": _glyph("bcefg"),
    "L": _glyph("def"), "M": _glyph("abcef"), "N": _glyph("ceg"), "O": _glyph("abcdef"),
    "P": _glyph("abefg"), "R": _glyph("eg"), "S": _glyph("acdfg"), "T": _glyph("defg"),
    "U": _glyph("bcdef"), "V": _glyph("cde"), "Y": _glyph("bcdfg"),
}
FONT: dict[str, frozenset[str]] = {**DIGIT_GLYPHS, **LETTER_GLYPHS, " ": frozenset()}

# Every word the meter shows (docs/CONTRACTS.md 3.2 and the short codes' texts).
VOCABULARY = (
    "BENAR", "GAGAL", "USED", "USANG", "OVER", "PERIKSA", "BLOKIR", "KCT", "MUTE", "TEST",
    "OK", "RELAY", "KRN", "KT", "TI", "TAMPER", "MIN",
)

_NUMBER = re.compile(r"-?(?:\d\.?)*")
_WITH_UNIT = re.compile(r"(\S+) (\S+)")


@dataclass(frozen=True)
class LcdLayout:
    """Where one LCD model's digit cells, segments and unit icons are."""

    aspect: float                      # glass width / height
    cells: tuple[Box, ...]             # digit cells, left to right, in glass fractions
    segments: Mapping[str, Box] = field(hash=False)   # a-g and dp, in cell fractions
    glass: tuple[Box, ...] = ()        # bare glass inside a cell (the reader's white level)
    icons: Mapping[str, Box] = field(default_factory=dict, hash=False)  # unit -> glass box

    @property
    def decimal_points(self) -> bool:
        return DP in self.segments

    @classmethod
    def from_table(cls, table: dict[str, Any]) -> LcdLayout:
        """Parse a profile's `[display.lcd]` table; a bad key is a ValueError naming it."""
        if not isinstance(table, dict):
            raise ValueError("display.lcd must be a table")
        known = {"aspect", "cells", "segments", "glass", "icons"}
        for key in table:
            if key not in known:
                raise ValueError(f"unknown key 'display.lcd.{key}' (known: "
                                 f"{', '.join(sorted(known))})")
        for key in ("aspect", "cells"):
            if key not in table:
                raise ValueError(f"missing key 'display.lcd.{key}'")
        aspect = table["aspect"]
        if isinstance(aspect, bool) or not isinstance(aspect, int | float) \
                or not (math.isfinite(aspect) and aspect > 0):
            raise ValueError(f"'display.lcd.aspect' must be a positive number, got {aspect!r}")
        cells = table["cells"]
        if not isinstance(cells, list) or not cells:
            raise ValueError("'display.lcd.cells' must be a non-empty list of [x, y, w, h]")
        parsed_cells = tuple(_box(c, f"display.lcd.cells[{i}]") for i, c in enumerate(cells))
        segments = dict(DEFAULT_SEGMENTS)
        if "segments" in table:
            raw = _table(table["segments"], "display.lcd.segments")
            for name, value in raw.items():
                if name not in (*SEGMENTS, DP):
                    raise ValueError(f"unknown segment 'display.lcd.segments.{name}' "
                                     f"(known: {', '.join((*SEGMENTS, DP))})")
                segments[name] = _box(value, f"display.lcd.segments.{name}")
        glass = DEFAULT_GLASS
        if "glass" in table:
            if not isinstance(table["glass"], list) or not table["glass"]:
                raise ValueError("'display.lcd.glass' must be a non-empty list of [x, y, w, h]")
            glass = tuple(_box(g, f"display.lcd.glass[{i}]")
                          for i, g in enumerate(table["glass"]))
        icons: dict[str, Box] = {}
        for name, value in _table(table.get("icons", {}), "display.lcd.icons").items():
            if name not in UNITS:
                raise ValueError(f"unknown icon 'display.lcd.icons.{name}' "
                                 f"(known: {', '.join(UNITS)})")
            icons[name] = _box(value, f"display.lcd.icons.{name}")
        return cls(float(aspect), parsed_cells, segments, glass, icons)


def _table(value: Any, where: str) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise ValueError(f"'{where}' must be a table")
    return value


def _box(value: Any, where: str) -> Box:
    if not (isinstance(value, list | tuple) and len(value) == 4
            and all(isinstance(v, int | float) and not isinstance(v, bool) for v in value)):
        raise ValueError(f"'{where}' must be [x, y, width, height], got {value!r}")
    x, y, w, h = (float(v) for v in value)
    if not (w > 0 and h > 0 and x >= 0 and y >= 0 and x + w <= 1.0 + 1e-9
            and y + h <= 1.0 + 1e-9):
        raise ValueError(f"'{where}' = {list(value)} is not a box inside 0..1")
    return (x, y, w, h)


# A standard upright 7-segment cell: the digit fills x 0..0.82, the point sits bottom right.
DEFAULT_SEGMENTS: dict[str, Box] = {
    "a": (0.12, 0.00, 0.58, 0.11), "g": (0.12, 0.445, 0.58, 0.11), "d": (0.12, 0.89, 0.58, 0.11),
    "f": (0.00, 0.07, 0.13, 0.39), "b": (0.69, 0.07, 0.13, 0.39),
    "e": (0.00, 0.54, 0.13, 0.39), "c": (0.69, 0.54, 0.13, 0.39),
    DP: (0.87, 0.88, 0.12, 0.12),
}
# The two "counters" of the 8: glass no segment covers.
DEFAULT_GLASS: tuple[Box, ...] = ((0.24, 0.17, 0.34, 0.22), (0.24, 0.62, 0.34, 0.22))

DEFAULT_LAYOUT = LcdLayout(
    aspect=3.2,
    cells=tuple((0.04 + i * 0.115, 0.08, 0.105, 0.62) for i in range(8)),
    segments=DEFAULT_SEGMENTS,
    glass=DEFAULT_GLASS,
    icons={"kWh": (0.50, 0.79, 0.13, 0.14), "V": (0.66, 0.79, 0.06, 0.14),
           "A": (0.74, 0.79, 0.06, 0.14), "W": (0.82, 0.79, 0.06, 0.14),
           "Hz": (0.90, 0.79, 0.06, 0.14)},
)


@dataclass(frozen=True)
class Pattern:
    """What the LCD shows: the lit segments of each cell (left to right) and the lit icons."""

    cells: tuple[frozenset[str], ...]
    icons: frozenset[str]


def _is_number(text: str) -> bool:
    if text == "-":
        return True
    return _NUMBER.fullmatch(text) is not None and any(ch.isdigit() for ch in text)


def _number_cells(text: str) -> list[tuple[str, bool]]:
    cells: list[tuple[str, bool]] = []
    for ch in text:
        if ch == ".":
            cells[-1] = (cells[-1][0], True)
        else:
            cells.append((ch, False))
    return cells


def _number_text(cells: Iterable[tuple[str, bool]]) -> str:
    return "".join(ch + ("." if dp else "") for ch, dp in cells)


def canonical(text: str, layout: LcdLayout = DEFAULT_LAYOUT) -> str:
    """The text as this LCD shows it (module doc); ValueError for a text its font lacks."""
    text = " ".join(text.split())
    n = len(layout.cells)
    if not text:
        return ""
    match = _WITH_UNIT.fullmatch(text)
    if match and _is_number(match[1]) and match[1] != "-":
        unit = next((u for u in layout.icons if u.lower() == match[2].lower()), None)
        if unit is not None:
            return f"{canonical(match[1], layout)} {unit}"
    if _is_number(text):
        cells = _number_cells(text)[-n:]
        if not layout.decimal_points and any(dp for _, dp in cells):
            raise ValueError(f"the LCD has no decimal points to show {text!r}")
        return _number_text(cells)
    words = text.upper().split(" ")
    for word in words:
        if not (word in VOCABULARY or word.isdigit()):
            raise ValueError(f"the LCD cannot show {text!r}: {word!r} is not a word of its font")
    while len(" ".join(words)) > n:
        words.pop()
    if not words:
        raise ValueError(f"the LCD cannot show {text!r}: its first word needs more than {n} cells")
    return " ".join(words)


def encode(text: str, layout: LcdLayout = DEFAULT_LAYOUT) -> Pattern:
    """The segments and icons lit for a text (after `canonical`), right-aligned."""
    shown = canonical(text, layout)
    icons: frozenset[str] = frozenset()
    parts = shown.rsplit(" ", 1)
    if len(parts) == 2 and parts[1] in UNITS:
        shown, icons = parts[0], frozenset({parts[1]})
    cells = _number_cells(shown) if _is_number(shown) else [(ch, False) for ch in shown]
    lit = [FONT[ch] | ({DP} if dp else frozenset()) for ch, dp in cells]
    blanks = [frozenset()] * (len(layout.cells) - len(lit))
    return Pattern(tuple(blanks + lit), icons)


_DIGIT_OF = {glyph: ch for ch, glyph in DIGIT_GLYPHS.items()}
_WORD_OF = {tuple(FONT[ch] for ch in word): word for word in VOCABULARY}


def decode(cells: Sequence[Iterable[str]], icons: Iterable[str] = ()) -> str | None:
    """The canonical text of a segment pattern; None when it is not a valid display."""
    lit = [frozenset(c) for c in cells]
    icons = frozenset(icons)
    if not any(lit):
        return "" if not icons else None
    if not lit[-1]:
        return None  # the display is right-aligned: a blank last cell is a misread
    while not lit[0]:
        lit.pop(0)
    groups: list[list[frozenset[str]]] = [[]]
    for cell in lit:
        if not cell:
            if not groups[-1]:
                return None  # two blank cells in a row: never shown
            groups.append([])
        else:
            groups[-1].append(cell)
    if len(groups) == 1:
        number = _read_number(groups[0])
        if number is not None:
            if not icons:
                return number
            if len(icons) == 1 and number != "-":
                return f"{number} {next(iter(icons))}"
            return None
    if icons:
        return None
    words = []
    for group in groups:
        if any(DP in cell for cell in group):
            return None
        digits = "".join(_DIGIT_OF.get(cell, "?") for cell in group)
        if digits.isdigit():
            words.append(digits)
        elif tuple(group) in _WORD_OF:
            words.append(_WORD_OF[tuple(group)])
        else:
            return None
    return " ".join(words)


def _read_number(group: list[frozenset[str]]) -> str | None:
    cells = []
    for i, cell in enumerate(group):
        ch = _DIGIT_OF.get(cell - {DP})
        if ch is None or (ch == "-" and (i > 0 or DP in cell)):
            return None
        cells.append((ch, DP in cell))
    return _number_text(cells)


def profile_layout(profile: Any) -> LcdLayout:
    """The LCD layout a meter profile declares (`[display.lcd]`), or DEFAULT_LAYOUT when its
    profile declares none."""
    lcd = getattr(getattr(profile, "display", None), "lcd", None)
    if isinstance(lcd, LcdLayout):
        return lcd
    if isinstance(lcd, dict) and lcd:
        return LcdLayout.from_table(lcd)
    return DEFAULT_LAYOUT
