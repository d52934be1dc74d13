"""Property tests of every driver-side wire parser: whatever bytes a device sends, a parser
returns a value or raises the driver's own error, never anything else; what a well-behaved
device would send round-trips; a frame whose block check character is changed is refused."""

from __future__ import annotations

import contextlib
import math

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from drivers import iec62056 as iec
from drivers import keypad
from drivers.instruments import answers
from drivers.instruments.errors import AnswerError

FUZZ = settings(max_examples=300, deadline=None)
ASCII_PRINTABLE = "".join(chr(c) for c in range(0x20, 0x7F))

manufacturers = st.text(alphabet="ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz",
                        min_size=3, max_size=3)
# a backslash right after the baud rate character opens the enhanced capability pair
idents = st.text(alphabet=ASCII_PRINTABLE.replace("/", "").replace("!", ""), max_size=16) \
    .filter(lambda s: not s.startswith("\\"))
obis_codes = st.text(alphabet="0123456789ABCFabcf.:-", min_size=1, max_size=16)
values = st.text(alphabet="0123456789.:-+ ABCDEFGHIJKLMNOPQRSTUVWXYZ", max_size=32)
units = st.text(alphabet="kWhVAarz", max_size=4)
registers = st.builds(iec.Register, obis_codes, values, units)


# --- IEC 62056-21 ---------------------------------------------------------------------------


@FUZZ
@given(st.binary(max_size=64))
def test_identification_parser_raises_only_frame_error(line):
    try:
        ident = iec.parse_identification(line)
    except iec.FrameError:
        return
    assert line.startswith(b"/") and len(ident.manufacturer) == 3


@FUZZ
@given(manufacturers, st.sampled_from(sorted(iec.BAUD_MODE_C) + sorted(iec.BAUD_MODE_B)),
       idents, st.none() | st.sampled_from("0123456789"))
def test_identification_round_trips(manufacturer, baud_char, ident, enhanced):
    line = iec.identification(manufacturer, baud_char, ident, enhanced)
    parsed = iec.parse_identification(line)
    assert parsed == iec.Identification(manufacturer, baud_char, ident, enhanced)


@FUZZ
@given(st.binary(max_size=128))
def test_block_parsers_raise_only_frame_error(frame):
    for parse in (iec.split_block, iec.parse_readout):
        with contextlib.suppress(iec.FrameError):
            parse(frame)


@FUZZ
@given(st.text(max_size=64), obis_codes)
def test_data_set_parsers_raise_only_frame_error(text, address):
    for parse in (iec.parse_data_set, lambda t: iec.parse_read_answer(t, address)):
        with contextlib.suppress(iec.FrameError):
            parse(text)


@FUZZ
@given(st.lists(registers, max_size=8), st.sampled_from([iec.ETX, iec.EOT]))
def test_readout_round_trips(regs, end):
    body = "".join(iec.data_set(r) + "\r\n" for r in regs) + "!\r\n"
    frame = iec.data_block(body.encode("ascii"), end)
    assert iec.parse_readout(frame) == regs


@FUZZ
@given(st.lists(registers, min_size=1, max_size=8))
def test_a_readout_without_its_end_line_is_refused(regs):
    body = "".join(iec.data_set(r) + "\r\n" for r in regs)  # no "!" CR LF: cut short
    with pytest.raises(iec.FrameError, match="no end line '!' CR LF before ETX"):
        iec.parse_readout(iec.data_block(body.encode("ascii")))
    early = "!\r\n" + body + "!\r\n"  # an end line before the data
    with pytest.raises(iec.FrameError, match="an end line '!' before the last data line"):
        iec.parse_readout(iec.data_block(early.encode("ascii")))


@FUZZ
@given(st.lists(registers, min_size=1, max_size=4), st.integers(1, 255))
def test_a_changed_block_check_character_is_always_refused(regs, flip):
    body = "".join(iec.data_set(r) + "\r\n" for r in regs).encode("ascii")
    frame = iec.data_block(body)
    bad = frame[:-1] + bytes([frame[-1] ^ flip])
    with pytest.raises(iec.BCCMismatch):
        iec.split_block(bad)


@FUZZ
@given(st.lists(registers, min_size=1, max_size=4), st.data())
def test_a_changed_data_bit_is_always_refused(regs, data):
    body = "".join(iec.data_set(r) + "\r\n" for r in regs).encode("ascii")
    frame = bytearray(iec.data_block(body))
    i = data.draw(st.integers(1, len(frame) - 2), label="byte")  # STX is outside the BCC
    frame[i] ^= 1 << data.draw(st.integers(0, 6), label="bit")
    with pytest.raises(iec.FrameError):
        iec.parse_readout(bytes(frame))


@FUZZ
@given(registers, obis_codes)
def test_read_answer_is_for_the_address_asked_or_refused(reg, asked):
    text = iec.data_set(reg)
    if reg.obis == asked:
        assert iec.parse_read_answer(text, asked) == reg
    else:
        with pytest.raises(iec.AddressMismatch):
            iec.parse_read_answer(text, asked)
    bare = iec.data_set(iec.Register("", reg.value, reg.unit))
    assert iec.parse_read_answer(bare, asked) == iec.Register(asked, reg.value, reg.unit)


# --- keypad injector ------------------------------------------------------------------------


@FUZZ
@given(st.binary(max_size=64), st.sampled_from(sorted(keypad.ANSWER_SHAPES)))
def test_keypad_answer_parsers_raise_only_keypad_error(raw, step):
    try:
        text = keypad.parse_answer(step, raw)
    except keypad.KeypadError:
        return
    for parse in (lambda: keypad.parse_times(step if step in ("PRESS", "TIME?") else "TIME?",
                                             text, 1),
                  lambda: keypad.parse_times("TYPE", text, 2),
                  lambda: keypad.parse_keys("LAST?", text),
                  lambda: keypad.parse_idn("*IDN?", text)):
        with contextlib.suppress(keypad.AnswerError):
            parse()


@FUZZ
@given(st.lists(st.floats(0, 1e7, allow_nan=False), min_size=1, max_size=2))
def test_keypad_times_round_trip(times):
    times = sorted(times)
    step, count = ("TYPE", 2) if len(times) == 2 else ("PRESS", 1)
    raw = ("OK " + " ".join(f"{t:.6f}" for t in times) + "\r\n").encode()
    parsed = keypad.parse_times(step, keypad.parse_answer(step, raw), count)
    assert parsed == tuple(float(f"{t:.6f}") for t in times)


# --- SCPI answers ---------------------------------------------------------------------------


@FUZZ
@given(st.binary(max_size=64))
def test_scpi_answer_parsers_raise_only_answer_error(raw):
    try:
        text = answers.decode_answer("Q?", raw)
    except AnswerError:
        return
    for parse in (answers.parse_number, answers.parse_numbers, answers.parse_bool,
                  answers.parse_idn, answers.parse_error, answers.parse_block_header):
        try:
            value = parse("Q?", text)
        except AnswerError:
            continue
        if parse is answers.parse_number:
            assert math.isfinite(value) and abs(value) < answers.SCPI_OVERLOAD


@FUZZ
@given(st.floats(allow_nan=False, allow_infinity=False, min_value=-1e37, max_value=1e37),
       st.sampled_from(["{:.6E}", "{!r}", "{:+.3f}"]))
def test_scpi_numbers_round_trip(value, form):
    text = form.format(value)
    assert answers.parse_number("MEAS?", text) == float(text)


@FUZZ
@given(st.lists(st.text(alphabet=ASCII_PRINTABLE.replace(",", ""), min_size=1,
                        max_size=12).map(str.strip).filter(bool), min_size=4, max_size=4))
def test_scpi_idn_round_trips(fields):
    assert answers.parse_idn("*IDN?", ",".join(fields)) == answers.Identity(*fields)


@FUZZ
@given(st.text(max_size=40))
def test_scpi_text_that_is_not_a_number_is_refused(text):
    stripped = text.strip()
    if answers._NUMBER.fullmatch(stripped) and abs(float(stripped)) < answers.SCPI_OVERLOAD:
        assert answers.parse_number("MEAS?", text) == float(stripped)
    else:
        with pytest.raises(AnswerError):
            answers.parse_number("MEAS?", text)
