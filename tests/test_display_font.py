"""The LCD font and layout (meterprofile.lcd): every text the meter shows round-trips."""

from __future__ import annotations

import itertools

import pytest

from meterprofile.lcd import (
    DEFAULT_LAYOUT,
    DIGIT_GLYPHS,
    FONT,
    VOCABULARY,
    LcdLayout,
    canonical,
    decode,
    encode,
)

MESSAGES = ["BENAR", "GAGAL", "USED", "USANG", "OVER", "PERIKSA", "BLOKIR", "KCT 1", "KCT 2"]
SHOWN = [*MESSAGES, "123.45 kWh", "230.0 V", "5.000 A", "1150 W", "50.00 Hz", "", "12.34",
         "0.00", "936.00", "-", "1.0.0", "75", "123456", "TI 01", "TAMPER 0", "MUTE",
         "30 MIN", "10 kWh"]


@pytest.mark.parametrize("text", SHOWN)
def test_encode_then_decode_gives_the_canonical_text_back(text):
    assert canonical(text) == text
    pattern = encode(text)
    assert len(pattern.cells) == 8
    assert decode(pattern.cells, pattern.icons) == text


@pytest.mark.parametrize(("meant", "shown"), [
    ("5 kWh", "5 kWh"),                 # digits and the kWh icon
    ("30 min", "30 MIN"),               # no min icon: the word
    ("KRN 1 KT 2", "KRN 1 KT"),         # a phrase keeps the leading words that fit 8 cells
    ("TEST 6 OK", "TEST 6"),
    ("RELAY TEST", "RELAY"),
    ("888888888", "88888888"),          # a number keeps its rightmost cells
    ("47123456783", "23456783"),
    ("60072747123456783400", "56783400"),  # a half-typed token scrolls
    ("  BENAR ", "BENAR"),
    ("1234567.89", "234567.89"),        # points do not take a cell
])
def test_canonical_applies_the_documented_rules(meant, shown):
    assert canonical(meant) == shown
    pattern = encode(meant)
    assert decode(pattern.cells, pattern.icons) == shown


def test_known_patterns_by_hand():
    one_kwh = encode("1 kWh")
    assert one_kwh.cells[-1] == {"b", "c"} and not any(one_kwh.cells[:-1])
    assert one_kwh.icons == {"kWh"}
    benar = encode("BENAR")
    assert benar.cells[3:] == ({"c", "d", "e", "f", "g"}, {"a", "d", "e", "f", "g"},
                               {"c", "e", "g"}, {"a", "b", "c", "e", "f", "g"}, {"e", "g"})
    point = encode("12.34")
    assert point.cells[5] == {"a", "b", "d", "e", "g", "dp"}


def test_every_message_looks_different():
    patterns = {text: encode(text) for text in SHOWN}
    for (a, pa), (b, pb) in itertools.combinations(patterns.items(), 2):
        assert pa != pb, (a, b)


def test_no_word_could_be_read_as_digits():
    digit_glyphs = set(DIGIT_GLYPHS.values())
    for word in VOCABULARY:
        assert any(FONT[ch] not in digit_glyphs for ch in word), word


@pytest.mark.parametrize("cells", [
    [set()] * 7 + [{"a", "b"}],                      # no glyph
    [set()] * 6 + [{"b", "c"}, set()],               # blank last cell: a misread
    [set()] * 5 + [{"b", "c"}, set(), set(), {"b", "c"}][:8],  # two blanks inside
    [set()] * 7 + [{"dp"}],                          # a point alone
    [set()] * 6 + [{"g", "dp"}, {"b", "c"}],         # a minus with a point
    [set()] * 5 + [{"b", "c"}, {"g"}, {"b", "c"}],  # a minus inside a number
])
def test_decode_refuses_what_is_not_a_valid_display(cells):
    assert decode(cells[:8], ()) is None


def test_decode_refuses_bad_icon_combinations():
    digit = [set()] * 7 + [{"b", "c"}]
    assert decode(digit, {"kWh", "V"}) is None
    assert decode([set()] * 8, {"V"}) is None
    benar = encode("BENAR")
    assert decode(benar.cells, {"kWh"}) is None
    assert decode([set()] * 7 + [{"g"}], {"V"}) is None


def test_a_text_the_font_lacks_is_refused_by_name():
    with pytest.raises(ValueError, match="'HELLO' is not a word"):
        canonical("HELLO")


def test_from_table_reads_a_layout():
    table = {"aspect": 3.0, "cells": [[0.1, 0.1, 0.2, 0.6], [0.4, 0.1, 0.2, 0.6]],
             "icons": {"kWh": [0.7, 0.8, 0.2, 0.1]}, "segments": {"dp": [0.9, 0.9, 0.1, 0.1]}}
    layout = LcdLayout.from_table(table)
    assert layout.aspect == 3.0 and len(layout.cells) == 2
    assert layout.cells[1] == (0.4, 0.1, 0.2, 0.6)
    assert layout.segments["dp"] == (0.9, 0.9, 0.1, 0.1)
    assert layout.segments["a"] == DEFAULT_LAYOUT.segments["a"]
    assert dict(layout.icons) == {"kWh": (0.7, 0.8, 0.2, 0.1)}
    assert canonical("123", layout) == "23"


@pytest.mark.parametrize(("table", "message"), [
    ({"cells": [[0, 0, 0.1, 0.1]]}, "missing key 'display.lcd.aspect'"),
    ({"aspect": 3}, "missing key 'display.lcd.cells'"),
    ({"aspect": -1, "cells": [[0, 0, 0.1, 0.1]]}, "'display.lcd.aspect' must be a positive"),
    ({"aspect": 3, "cells": []}, "'display.lcd.cells' must be a non-empty list"),
    ({"aspect": 3, "cells": [[0, 0, 0.1]]}, r"'display.lcd.cells\[0\]' must be \[x, y"),
    ({"aspect": 3, "cells": [[0.1, 0, 0.1, 0.1], [0.95, 0, 0.1, 0.1]]},
     r"'display.lcd.cells\[1\]' = \[0.95, 0, 0.1, 0.1\] is not a box inside 0..1"),
    ({"aspect": 3, "cells": [[0, 0, 0.1, 0.1]], "digits": 8}, "unknown key 'display.lcd.digits'"),
    ({"aspect": 3, "cells": [[0, 0, 0.1, 0.1]], "icons": {"VA": [0, 0, 0.1, 0.1]}},
     "unknown icon 'display.lcd.icons.VA'"),
    ({"aspect": 3, "cells": [[0, 0, 0.1, 0.1]], "segments": {"h": [0, 0, 0.1, 0.1]}},
     "unknown segment 'display.lcd.segments.h'"),
    ({"aspect": 3, "cells": [[0, 0, 0.1, 0.1]], "segments": {"a": [0, 0, 0, 0.1]}},
     "'display.lcd.segments.a' = .* is not a box"),
])
def test_from_table_names_the_bad_key(table, message):
    with pytest.raises(ValueError, match=message):
        LcdLayout.from_table(table)
