"""Random input against the emulated bench's parsers: nothing a client sends kills a server,
and a valid request is still answered afterwards.

The high-count properties drive the parsers directly (the optical port's message splitter and
state machine with its paced output recorded instead of sent, the injector's line handling,
the SCPI command dispatch on the real instruments); a few examples of each then go over the
real wires of a running `python -m emulator`.
"""

from __future__ import annotations

import contextlib
import json
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import serial
from emulator_support import Bench
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from emulator.keypad import MAX_LINE, KeypadInjectorServer
from emulator.lines import Line, LineBuffer
from emulator.optical import OpticalPortServer, bcc, from_last_request, split_message
from emulator.scpi.instruments import AcLoadDevice, AcSourceDevice, DmmDevice, ScopeDevice
from emulator.scpi.server import MAX_ANSWER, QUEUE_DEPTH

ROOT = Path(__file__).resolve().parent.parent
SOH, STX, ETX, ACK, NAK = b"\x01", b"\x02", b"\x03", b"\x06", b"\x15"
FAST = settings(max_examples=300, deadline=None,
                suppress_health_check=[HealthCheck.too_slow])
WIRE = settings(max_examples=8, deadline=None,
                suppress_health_check=[HealthCheck.too_slow])


# --- strategies -----------------------------------------------------------------------------

def frame(command: bytes, data: bytes | None, spoil: bool) -> bytes:
    body = command + (STX + data if data is not None else b"") + ETX
    return SOH + body + bytes([bcc(body) ^ (0x01 if spoil else 0x00)])


commands = st.sampled_from([b"P1", b"R1", b"B0", b"W1", b"P2", b"R5", b"\x00\x7f"])
operands = st.one_of(st.none(), st.sampled_from([b"(00000000)", b"(12345678)", b"C.50.0()",
                                                 b"C.60.0()", b"F.F()", b"()", b"("]),
                     st.binary(max_size=40))
frames = st.builds(frame, commands, operands, st.booleans())
options = st.builds(lambda p, z, y: ACK + bytes([p, z, y]) + b"\r\n",
                    st.integers(0, 127), st.integers(0, 127), st.integers(0, 127))
requests = st.one_of(st.just(b"/?!\r\n"), st.builds(lambda a: b"/?" + a + b"!\r\n",
                                                     st.binary(max_size=40)))
optical_pieces = st.one_of(frames, options, requests, st.just(NAK), st.binary(max_size=60),
                           frames.map(lambda f: f[: len(f) // 2]))
optical_input = st.lists(optical_pieces, max_size=12).map(b"".join)

scpi_words = st.sampled_from([
    "*IDN?", "*RST", "*CLS", "*OPC?", "*ESR?", "*STB?", "SYST:ERR?", ":WAV:DATA?", ":WAV:PRE?",
    ":WAV:POIN", ":TIM:SCAL", ":TRIG:SOUR", ":SING", ":TER?", ":MEAS:DEL?", "SOUR:VOLT",
    "SOUR:FREQ?", "OUTP", "MODE", "CURR", "POW?", "LOAD", "LEAK", "MEAS:VOLT?", "READ?",
    "CONF:CURR:AC", "CONF?", "MEAS:CURR:AC?", ":TRIG:DROP:TIME", ":TRIG:TYPE"])
scpi_args = st.one_of(st.just(""), st.sampled_from([" 1", " ON", " 0", " -5", " 1e308", " nan",
                                                     " inf", " CHAN2", " CHAN1,CHAN2", " ,",
                                                     " 99999", " DROP", " 2"]),
                      st.text(max_size=12).map(lambda t: " " + t))
scpi_commands = st.one_of(st.builds(str.__add__, scpi_words, scpi_args), st.text(max_size=30))
scpi_lines = st.lists(scpi_commands, max_size=8).map(";".join)


# --- line framing ---------------------------------------------------------------------------

@FAST
@given(st.lists(st.binary(max_size=40).map(lambda b: b.replace(b"x", b"\n")), max_size=20),
       st.integers(1, 30))
def test_line_buffer_splits_as_the_stream_reads_and_bounds_each_line(chunks, limit):
    lines = LineBuffer(limit)
    got: list[Line] = []
    for chunk in chunks:
        got += lines.feed(chunk)
        assert lines.pending <= limit
    *ended, tail = b"".join(chunks).split(b"\n")
    expected = [Line(too_long=True) if len(seg) > limit else Line(seg) for seg in ended]
    if len(tail) > limit:
        expected.append(Line(too_long=True))
    assert got == expected


# --- the optical port -----------------------------------------------------------------------

@FAST
@given(st.binary(min_size=1, max_size=200))
def test_split_message_always_progresses(buf):
    message, rest = split_message(buf)
    if message is None:
        assert rest == buf
    else:
        assert len(rest) < len(buf) and buf.endswith(rest)
        assert message.kind in ("REQUEST", "OPTION", "NAK", "COMMAND", "NOISE")


@FAST
@given(optical_input)
def test_a_sign_on_after_anything_is_parsed_as_a_request(junk):
    buf = from_last_request(junk + b"/?!\r\n")
    while True:
        message, buf = split_message(buf)
        assert message is not None
        if message.kind == "REQUEST":
            assert (message.text, buf) == ("", b"")
            return


class RecordedOptical:
    """The optical port's state machine on a model with a hand-moved clock; what it would
    send is recorded instead of paced out over the pty."""

    def __init__(self) -> None:
        self.bench = Bench()
        self.server = OpticalPortServer(self.bench.model, baud_char="5")
        self.sent: list[bytes] = []
        self.server._send = lambda data, remember=True: self.sent.append(data)

    def feed(self, data: bytes) -> list[bytes]:
        self.sent = []
        self.server._hear(data)
        self.server._consume()
        return self.sent


@pytest.fixture(scope="module")
def recorded() -> Iterator[RecordedOptical]:
    port = RecordedOptical()
    yield port
    port.server.port.close()


@FAST
@given(junk=optical_input)
def test_optical_state_machine_survives_anything_and_opens_a_session_after(recorded, junk):
    recorded.feed(junk)
    recorded.server._rx = b""  # a pause longer than the inter-character timeout
    assert recorded.feed(b"/?!\r\n") == [b"/EMu5STS-EMU-1.0.0\r\n"]
    assert recorded.server.state == "IDENT"
    p0 = recorded.feed(ACK + b"051\r\n")
    assert p0 == [SOH + b"P0" + STX + b"(47123456783)" + ETX + b"\x58"]
    assert recorded.feed(frame(b"P1", b"(00000000)", False)) == [ACK]
    answer = recorded.feed(frame(b"R1", b"C.59.0()", False))
    assert answer == [STX + b"C.59.0(0)" + ETX + b"\x4d"]
    assert recorded.feed(frame(b"R1", b"C.59.0()", True)) == [NAK]
    assert recorded.feed(frame(b"B0", None, False)) == []
    assert recorded.server.state == "START"


# --- the keypad injector --------------------------------------------------------------------

class Recorder:
    def __init__(self, written: list[bytes]) -> None:
        self.written = written

    def write(self, data: bytes) -> bool:
        self.written.append(data)
        return True


@pytest.fixture(scope="module")
def injector() -> tuple[KeypadInjectorServer, list[bytes]]:
    bench = Bench()
    server = KeypadInjectorServer(bench.model, press_ms=1, gap_ms=1)
    server.port.close()
    replies: list[bytes] = []
    server.port = Recorder(replies)  # what the injector writes back, line by line
    return server, replies


keypad_lines = st.one_of(
    st.binary(max_size=80).map(lambda b: b.replace(b"\n", b"")),
    st.builds(lambda c, a: c + a, st.sampled_from([b"PRESS ", b"TYPE ", b"LAST? ", b"TIME? ",
                                                   b"*IDN? ", b"press\x0b", b"\x0b"]),
              st.binary(max_size=30).map(lambda b: b.replace(b"\n", b""))))


@FAST
@given(keypad_lines)
def test_every_keypad_line_gets_exactly_one_answer(injector, raw):
    server, replies = injector
    replies.clear()
    server._answer(raw)
    if not raw.strip(b" \t\r"):
        assert replies == []
        return
    assert len(replies) == 1
    reply = replies[0]
    assert reply.startswith((b"OK", b"ERR ")) and reply.endswith(b"\r\n")
    assert b"\r" not in reply[:-2] and b"\n" not in reply[:-2]
    assert not reply.startswith(b"ERR internal error"), reply


# --- the SCPI instruments -------------------------------------------------------------------

@pytest.fixture(scope="module")
def devices():
    bench = Bench()
    m = bench.model
    return [AcSourceDevice(m), AcLoadDevice(m), DmmDevice(m), ScopeDevice(m)]


@FAST
@given(st.integers(0, 3), scpi_lines)
def test_scpi_dispatch_never_fails_inside_an_instrument(devices, which, line):
    device = devices[which]
    answer = device.handle(line)
    assert answer is None or (isinstance(answer, str) and len(answer) <= MAX_ANSWER)
    errors = list(device.errors)
    assert len(errors) <= QUEUE_DEPTH
    assert not [e for e in errors if e[0] == -300], errors  # no handler raised
    device.errors.clear()
    assert device.handle("*IDN?") == device.idn


# --- over the real wires ----------------------------------------------------------------------

@contextlib.contextmanager
def running_emulator() -> Iterator[dict]:
    proc = subprocess.Popen([sys.executable, "-m", "emulator", "--speed", "1000",
                             "--exit-on-stdin-eof"], cwd=ROOT, stdin=subprocess.PIPE,
                            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    try:
        line = proc.stdout.readline()
        assert line, "the emulator did not start"
        yield json.loads(line)
        assert proc.poll() is None, "the emulator died"
    finally:
        proc.stdin.close()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def read_until(ser: serial.Serial, done, seconds: float = 10.0) -> bytes:
    end = time.monotonic() + seconds
    buf = b""
    while not done(buf):
        assert time.monotonic() < end, f"no complete answer within {seconds:g} s: {buf[-200:]!r}"
        buf += ser.read(max(1, ser.in_waiting))
    return buf


@pytest.fixture(scope="module")
def wires() -> Iterator[dict]:
    with running_emulator() as info:
        yield info


@WIRE
@given(st.binary(max_size=300))
def test_optical_wire_answers_a_sign_on_after_random_bytes(wires, junk):
    with serial.Serial(wires["optical"], 300, timeout=0.05) as ser:
        ser.write(junk + b"/?!\r\n")
        got = read_until(ser, lambda b: b"\r\n" in b.partition(b"STS-EMU-")[2])
        assert got.endswith(b"/EMu6STS-EMU-1.0.0\r\n"), got  # pln_default offers 19200


@WIRE
@given(st.lists(keypad_lines, min_size=1, max_size=5),
       st.one_of(st.just(b""), st.just(b"5" * (MAX_LINE + 1))))
def test_keypad_wire_answers_each_line_then_identifies(wires, lines, long_line):
    sent = [*lines, long_line] if long_line else lines
    expected = sum(1 for raw in sent if raw.strip(b" \t\r"))
    with serial.Serial(wires["keypad"], 115200, timeout=0.05) as ser:
        ser.write(b"".join(raw + b"\n" for raw in sent) + b"*IDN?\n")
        # a generated line may itself be *IDN?: wait for every answer, not the first identity
        got = read_until(ser, lambda b: b.count(b"\r\n") >= expected + 1 and b.endswith(
            b"OK STS-RIG,KEYPAD-INJECTOR,EMU0001,1.0\r\n"))
    answers = got.split(b"\r\n")[:-2]
    assert len(answers) == expected, answers
    assert all(a.startswith((b"OK", b"ERR ")) for a in answers), answers


@pytest.fixture(scope="module")
def scpi_wires() -> Iterator[dict]:
    with running_emulator() as info:  # its own: random lines switch the supply off
        yield info


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.one_of(scpi_lines.map(str.encode), st.binary(max_size=100)), max_size=4))
def test_scpi_wire_answers_after_random_lines(scpi_wires, lines):
    for resource in scpi_wires["instruments"].values():
        _, host, port, _ = resource.split("::")
        with socket.create_connection((host, int(port)), timeout=10) as sock:
            sock.sendall(b"".join(raw + b"\n" for raw in lines) + b"*IDN?;*OPC?\n")
            buf = b""
            while not (buf.endswith(b";1\n") and b"STS-RIG,EMU-" in buf):
                chunk = sock.recv(1 << 20)
                assert chunk, "the instrument closed the connection"
                buf += chunk
