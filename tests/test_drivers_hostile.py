"""The drivers against hostile or broken devices, on a real pty or a real TCP socket.

Each device misbehaves in one way (issue 10, items 5-8): it never ends its message, answers
late, answers for another address, hangs up mid-answer, sends non-ASCII or a reading that is
no number. The driver must give its own error, naming the step and the bytes received, within
its deadline, and must never hand one command's answer to another.
"""

from __future__ import annotations

import pytest

from drivers.iec62056 import command
from drivers.instruments import AcSource, AnswerError, Dmm, InstrumentError, InstrumentTimeout
from drivers.keypad import AnswerError as KeypadAnswerError
from drivers.keypad import KeypadError, KeypadInjector
from drivers.optical import (
    AddressMismatchError,
    DeadlineError,
    LineLostError,
    MessageTooLongError,
    NoAnswerError,
    OpticalError,
    OpticalPort,
)
from tests.hostile_support import HostilePty, HostileScpi, frame

# --- optical port (IEC 62056-21) ----------------------------------------------------------------


def test_identification_that_never_ends_is_cut_at_its_bound():
    def behave(dev):
        dev.read_until(b"\r\n")
        dev.stream(b"/EMu5" + b"X" * 64, 0.001)

    with HostilePty(behave) as dev, OpticalPort(dev.path, timeout=0.5, retries=0) as port, \
            pytest.raises(MessageTooLongError) as err:
        port.identify()
    assert err.value.step == "sign-on"
    assert err.value.received.startswith(b"/EMu5XXX") and len(err.value.received) == 41
    assert f"optical port {dev.path}: sign-on: more than 40 bytes without CR LF " \
           "(received 41 bytes: b'/EMu5XXX" in str(err.value)


def test_readout_dribbling_without_etx_ends_at_the_readout_deadline():
    def behave(dev):
        dev.sign_on("0")
        dev.write(b"\x02C.1.0(47123456783)\r\n")
        dev.stream(b"1", 0.02)  # a byte every 20 ms: never silent for the 0.5 s timeout

    with HostilePty(behave) as dev, \
            OpticalPort(dev.path, timeout=0.5, retries=0, readout_timeout=1.0) as port, \
            pytest.raises(DeadlineError) as err:
        port.readout()
    assert err.value.step == "readout"
    assert err.value.received.startswith(b"\x02C.1.0(47123456783)\r\n111")
    assert f"optical port {dev.path}: readout: no ETX+BCC within 1.0 s (received " \
           in str(err.value)


def test_readout_larger_than_the_maximum_is_refused():
    def behave(dev):
        dev.sign_on("0")
        dev.write(b"\x02")
        dev.stream(b"1.8.0(000012.345*kWh)\r\n", 0.0)

    with HostilePty(behave) as dev, \
            OpticalPort(dev.path, timeout=0.5, retries=0, max_readout=4096) as port, \
            pytest.raises(MessageTooLongError) as err:
        port.readout()
    assert err.value.step == "readout" and len(err.value.received) == 4097
    assert "readout: more than 4096 bytes without ETX+BCC (received 4097 bytes: " \
           "b'\\x021.8.0(000012.345*kWh)" in str(err.value)
    assert len(str(err.value)) < 400  # the bytes are shown cut, not all 4 kB


def _reader(answer: bytes):
    def behave(dev):
        dev.sign_on("1")
        assert dev.read_command() == command("R1", "C.52.2()")
        dev.write(answer)
        dev.read_command()  # B0 at close
    return behave


def test_late_tail_of_an_earlier_answer_before_the_identification_is_dropped():
    def behave(dev):
        dev.read_until(b"!\r\n")
        dev.write(b"(12:00:00)\r\n\x03" + b"/EMu5STS-EMU-1.0.0\r\n")

    with HostilePty(behave) as dev, OpticalPort(dev.path, timeout=0.5) as port:
        ident = port._sign_on()
    assert (ident.manufacturer, ident.baud_char, ident.ident) == ("EMu", "5", "STS-EMU-1.0.0")


def test_read_answered_for_another_address_is_refused():
    answer = frame(b"0.9.1(12:00:00)")
    with HostilePty(_reader(answer)) as dev, OpticalPort(dev.path, timeout=0.5) as port, \
            pytest.raises(AddressMismatchError) as err:
        port.read("C.52.2")
    assert err.value.step == "read C.52.2" and err.value.received == answer
    assert str(err.value) == (
        f"optical port {dev.path}: read C.52.2: asked for address 'C.52.2', the answer is for "
        f"'0.9.1' (received {len(answer)} bytes: {answer!r})")


def test_read_answered_with_the_bare_value_is_the_register_asked():
    with HostilePty(_reader(frame(b"(ACCEPT)"))) as dev, \
            OpticalPort(dev.path, timeout=0.5) as port:
        reg = port.read("C.52.2")
    assert (reg.obis, reg.value, reg.unit) == ("C.52.2", "ACCEPT", "")


def test_read_answered_error_stays_the_unknown_address_error():
    answer = frame(b"(ERROR)")
    with HostilePty(_reader(answer)) as dev, OpticalPort(dev.path, timeout=0.5) as port, \
            pytest.raises(OpticalError, match=r"read C\.52\.2: the meter answered \(ERROR\)"):
        port.read("C.52.2")


def test_line_closed_mid_identification_is_a_line_lost_error():
    def behave(dev):
        dev.read_until(b"\r\n")
        dev.write(b"/EMu5STS")
        dev.hang_up()

    with HostilePty(behave) as dev:
        port = OpticalPort(dev.path, timeout=0.5, retries=1)
        with pytest.raises(LineLostError) as err:
            port.identify()
        port.close()
    assert isinstance(err.value, NoAnswerError) and err.value.step == "sign-on"
    assert f"optical port {dev.path}: sign-on: the line went away (" in str(err.value)


def test_non_ascii_identification_is_refused():
    def behave(dev):
        dev.read_until(b"\r\n")
        dev.write(b"/EMu5\xffSTS\r\n")

    with HostilePty(behave) as dev, OpticalPort(dev.path, timeout=0.5) as port, \
            pytest.raises(OpticalError) as err:
        port.identify()
    assert err.value.step == "identification" and err.value.received == b"/EMu5\xffSTS\r\n"
    assert "identification has a non-ASCII byte 0xFF at offset 5" in str(err.value)


# --- keypad injector ----------------------------------------------------------------------------


def test_keypad_answer_without_end_of_line_is_cut_at_its_bound():
    def behave(dev):
        assert dev.read_until(b"\n") == b"PRESS 5 0\n"
        dev.stream(b"OK 1" + b"0" * 100, 0.001)

    with HostilePty(behave) as dev, KeypadInjector(dev.path, timeout=0.5) as keypad, \
            pytest.raises(KeypadAnswerError) as err:
        keypad.press("5", 0)
    assert err.value.step == "PRESS" and len(err.value.received) == 257
    assert f"keypad injector {dev.path}: PRESS: more than 256 bytes without an end of line " \
           "(received 257 bytes: b'OK 1000" in str(err.value)
    assert len(str(err.value)) < 400


def test_keypad_answer_dribbling_ends_at_the_deadline():
    def behave(dev):
        dev.read_until(b"\n")
        dev.write(b"OK ")
        dev.stream(b"1", 0.1)

    with HostilePty(behave) as dev, KeypadInjector(dev.path, timeout=0.5) as keypad, \
            pytest.raises(KeypadError) as err:
        keypad.time()
    assert err.value.step == "TIME?" and err.value.received.startswith(b"OK 1")
    assert f"keypad injector {dev.path}: TIME?: no answer line within 0.5 s (received " \
           in str(err.value)


def test_late_time_answer_is_not_returned_to_the_next_press():
    def behave(dev):
        assert dev.read_until(b"\n") == b"TIME?\n"
        dev.stop.wait(0.6)  # the driver gave up after 0.3 s
        dev.write(b"OK 5.000000\r\n")
        dev.late_sent.set()
        assert dev.read_until(b"\n") == b"PRESS 5 0\n"
        dev.write(b"OK 7.000000\r\n")

    with HostilePty(behave) as dev, KeypadInjector(dev.path, timeout=0.3) as keypad:
        with pytest.raises(KeypadError, match=r"TIME\?: no answer line within 0\.3 s"):
            keypad.time()
        assert dev.late_sent.wait(5)
        assert keypad.press("5", 0) == 7.0


@pytest.mark.parametrize(("command", "answer", "expected"), [
    ("press", b"OK soon\r\n", "PRESS: answer 'OK soon' is not 'OK <t>'"),
    ("press", b"OK\r\n", "PRESS: answer 'OK ' is not 'OK <t>'"),
    ("press", b"OK nan\r\n", "PRESS: answer 'OK nan' is not 'OK <t>'"),
    ("press", b"OK inf\r\n", "PRESS: answer 'OK inf' is not 'OK <t>'"),
    ("type", b"OK 5.000000\r\n", "TYPE: answer 'OK 5.000000' is not 'OK <t_first> <t_last>'"),
    ("time", b"OK 1_0\r\n", "TIME?: answer 'OK 1_0' is not 'OK <t>'"),
    ("last", b"OK 12.5\r\n", "LAST?: answer 'OK 12.5' is not 'OK <keys>'"),
    ("idn", b"OK 12.5\r\n", "*IDN?: answer 'OK 12.5' is not 'OK <maker>,<model>,<serial>,"),
])
def test_keypad_answer_of_the_wrong_shape_names_command_and_answer(command, answer, expected):
    def behave(dev):
        dev.read_until(b"\n")
        dev.write(answer)

    calls = {"press": lambda k: k.press("5", 0), "type": lambda k: k.type_keys("1#", 0, 0),
             "time": lambda k: k.time(), "last": lambda k: k.last(3),
             "idn": lambda k: k.identify()}
    with HostilePty(behave) as dev, KeypadInjector(dev.path, timeout=0.5) as keypad, \
            pytest.raises(KeypadAnswerError) as err:
        calls[command](keypad)
    assert f"keypad injector {dev.path}: {expected}" in str(err.value)


def test_keypad_line_closed_mid_answer():
    def behave(dev):
        dev.read_until(b"\n")
        dev.write(b"OK 1.")
        dev.stop.wait(0.2)  # a pty drops unread bytes at hang-up: let the driver take them
        dev.hang_up()

    with HostilePty(behave) as dev, KeypadInjector(dev.path, timeout=0.5) as keypad, \
            pytest.raises(KeypadError) as err:
        keypad.press("5", 0)
    assert err.value.step == "PRESS" and err.value.received == b"OK 1."
    assert f"keypad injector {dev.path}: PRESS: the line went away (" in str(err.value)


def test_keypad_non_ascii_answer_is_refused():
    def behave(dev):
        dev.read_until(b"\n")
        dev.write(b"OK 12\xe93\r\n")

    with HostilePty(behave) as dev, KeypadInjector(dev.path, timeout=0.5) as keypad, \
            pytest.raises(KeypadAnswerError) as err:
        keypad.last(3)
    assert err.value.received == b"OK 12\xe93\r\n"
    assert f"keypad injector {dev.path}: LAST?: the answer has a non-ASCII byte 0xE9" \
        in str(err.value)


# --- SCPI instruments (pyvisa-py on TCP) --------------------------------------------------------


def test_scpi_answer_dribbling_without_newline_ends_at_the_deadline():
    def behave(dev):
        dev.answer_idn()
        assert dev.read_line() == "MEAS:VOLT:AC?"
        dev.stream(b"2", 0.01)

    with HostileScpi(behave) as dev, \
            Dmm(dev.resource, timeout_ms=500) as meter, pytest.raises(InstrumentTimeout) as err:
        meter.measure_voltage_ac()
    assert f"dmm {dev.resource}: no end of line in the answer to 'MEAS:VOLT:AC?' within " \
           "500 ms (received " in str(err.value)
    assert "bytes: b'222" in str(err.value)


def test_scpi_answer_longer_than_the_bound_is_refused():
    def behave(dev):
        dev.answer_idn()
        dev.read_line()
        dev.stream(b"2" * 1000, 0.0)

    with HostileScpi(behave) as dev:
        meter = Dmm(dev.resource, timeout_ms=2000)
        meter.answer_max = 4096
        with pytest.raises(AnswerError) as err:
            meter.measure_voltage_ac()
    assert err.value.command == "MEAS:VOLT:AC?" and len(err.value.received) == 4097
    assert f"dmm {dev.resource}: 'MEAS:VOLT:AC?': more than 4096 bytes without an end of " \
           "line (b'2222" in str(err.value)


def test_scpi_late_answer_is_not_taken_for_the_next_query():
    def behave(dev):
        dev.answer_idn()
        assert dev.read_line() == "MEAS:VOLT:AC?"
        dev.stop.wait(0.5)  # the driver gave up after 0.25 s
        dev.write(b"111.0\n")
        dev.late_sent.set()
        assert dev.read_line() == "MEAS:VOLT:AC?"
        dev.write(b"222.0\n")

    with HostileScpi(behave) as dev, \
            Dmm(dev.resource, timeout_ms=250) as meter:
        with pytest.raises(InstrumentTimeout, match=r"no answer to 'MEAS:VOLT:AC\?' within 250"):
            meter.measure_voltage_ac()
        assert dev.late_sent.wait(5)
        assert meter.measure_voltage_ac() == 222.0


def test_scpi_idn_that_is_a_reading_is_refused():
    with HostileScpi(lambda dev: dev.answer_idn("111.0")) as dev, \
            pytest.raises(AnswerError) as err:
        Dmm(dev.resource, timeout_ms=500)
    assert str(err.value) == (f"dmm {dev.resource}: *IDN?: answer '111.0' is not an "
                              "identification 'manufacturer,model,serial,firmware'")


def test_scpi_non_ascii_answer_is_refused():
    def behave(dev):
        dev.answer_idn()
        dev.read_line()
        dev.write(b"23.1\xb0C\n")

    with HostileScpi(behave) as dev, \
            Dmm(dev.resource, timeout_ms=500) as meter, pytest.raises(AnswerError) as err:
        meter.measure_voltage_ac()
    assert err.value.received == b"23.1\xb0C\n"
    assert str(err.value) == (f"dmm {dev.resource}: MEAS:VOLT:AC?: the answer has a non-ASCII "
                              "byte 0xB0 at offset 4 (received 7 bytes: b'23.1\\xb0C\\n')")


@pytest.mark.parametrize(("answer", "wanted"), [
    ("nan", "a decimal number"), ("inf", "a decimal number"), ("-INF", "a decimal number"),
    ("1_000", "a decimal number"), ("", "a decimal number"),
    ("+9.9E37", "a reading (SCPI overload value)"),
    ("9.91E37", "a reading (SCPI not a number value)"),
])
def test_scpi_reading_that_is_no_number_is_refused(answer, wanted):
    def behave(dev):
        dev.answer_idn()
        dev.read_line()
        dev.write(answer.encode() + b"\n")

    with HostileScpi(behave) as dev, \
            Dmm(dev.resource, timeout_ms=500) as meter, pytest.raises(AnswerError) as err:
        meter.measure_voltage_ac()
    assert str(err.value) == \
        f"dmm {dev.resource}: MEAS:VOLT:AC?: answer {answer!r} is not {wanted}"


def test_scpi_boolean_that_is_neither_is_refused():
    def behave(dev):
        dev.answer_idn("ACME,AC1,1,1.0")
        assert dev.read_line() == "OUTP?"
        dev.write(b"MAYBE\n")

    with HostileScpi(behave) as dev, \
            AcSource(dev.resource, timeout_ms=500) as source, \
            pytest.raises(AnswerError, match=r"OUTP\?: answer 'MAYBE' is not a boolean"):
        _ = source.output


def test_scpi_connection_closed_mid_answer_is_no_reading():
    def behave(dev):
        dev.answer_idn()
        dev.read_line()
        dev.write(b"23")
        dev.hang_up()

    with HostileScpi(behave) as dev, \
            Dmm(dev.resource, timeout_ms=500) as meter, pytest.raises(InstrumentError) as err:
        meter.measure_voltage_ac()
    assert "'MEAS:VOLT:AC?'" in str(err.value) and "b'23'" in str(err.value)
