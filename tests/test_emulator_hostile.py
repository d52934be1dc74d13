"""The emulated bench against a hostile client: every wire keeps serving whatever it is sent.

Each test starts `python -m emulator` and talks to it only through its wires (the keypad and
optical ptys with pyserial, the instruments over TCP on 127.0.0.1).
"""

from __future__ import annotations

import json
import os
import random
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
import serial

from drivers.iec62056 import parse_identification

ROOT = Path(__file__).resolve().parent.parent
SOH, STX, ETX, ACK = b"\x01", b"\x02", b"\x03", b"\x06"
IDENT = b"/EMu"  # the emulated meter's manufacturer id; its baud char is the profile's


# --- minimal wire clients -------------------------------------------------------------------

def switch_to_offered_baud(ser: serial.Serial, ident: bytes, mode: bytes) -> None:
    """Option select at the baud rate the identification offers (mode C), and the client's
    own port switched to it, as IEC 62056-21 mode C does."""
    offered = parse_identification(ident)
    ser.write(ACK + b"0" + offered.baud_char.encode() + mode + b"\r\n")
    ser.baudrate = offered.baud

def read_until(ser: serial.Serial, done, seconds: float = 5.0) -> bytes:
    """Bytes until `done(buf)` holds; an AssertionError naming what came if it never does."""
    end = time.monotonic() + seconds
    buf = b""
    while time.monotonic() < end:
        buf += ser.read(max(1, ser.in_waiting))
        if done(buf):
            return buf
    raise AssertionError(f"no complete answer within {seconds:g} s, received {buf!r}")


def keypad(path: str) -> serial.Serial:
    return serial.Serial(path, 115200, timeout=0.05)


def answer_lines(ser: serial.Serial, count: int) -> list[bytes]:
    raw = read_until(ser, lambda b: b.count(b"\r\n") >= count)
    return raw.split(b"\r\n")[:count]


def optical(path: str) -> serial.Serial:
    return serial.Serial(path, 300, timeout=0.05)


def readout_frame(buf: bytes) -> bool:
    i = buf.find(STX)
    return i >= 0 and buf.find(ETX, i) >= 0 and buf.find(ETX, i) < len(buf) - 1


class Scpi:
    def __init__(self, resource: str) -> None:
        _, host, port, _ = resource.split("::")
        self.sock = socket.create_connection((host, int(port)), timeout=10)
        self.buf = b""

    def send(self, data: bytes) -> None:
        self.sock.sendall(data)

    def query(self, line: str) -> str:
        self.send(line.encode() + b"\n")
        while b"\n" not in self.buf:
            chunk = self.sock.recv(1 << 20)
            assert chunk, "the instrument closed the connection"
            self.buf += chunk
        answer, self.buf = self.buf.split(b"\n", 1)
        return answer.decode()

    def close(self) -> None:
        self.sock.close()


class Emulator:
    def __init__(self, info: dict) -> None:
        self.optical, self.keypad = info["optical"], info["keypad"]
        self.instruments: dict[str, str] = info["instruments"]


@pytest.fixture(scope="module")
def emu(tmp_path_factory):
    """One emulated bench for the wire tests below: each leaves it serving, or fails."""
    proc, info = spawn(tmp_path_factory.mktemp("hostile"), "--exit-on-stdin-eof")
    yield Emulator(info)
    alive = proc.poll() is None
    stop(proc)
    assert alive, "the emulator died"


# --- 9: the keypad injector ---------------------------------------------------------------

@pytest.mark.parametrize("char", [b"\x0b", b"\x0c", b"\x1c", b"\x1d", b"\x1e", b"\x1f"])
def test_keypad_line_of_one_control_character_is_refused_and_serving_goes_on(emu, char):
    ser = keypad(emu.keypad)
    ser.write(char + b"\n*IDN?\n")
    refusal, ident = answer_lines(ser, 2)
    assert refusal == b"ERR unknown command " + repr(char.decode()).encode()
    assert ident == b"OK STS-RIG,KEYPAD-INJECTOR,EMU0001,1.0"


def test_keypad_over_long_line_gets_one_refusal_and_is_discarded(emu):
    ser = keypad(emu.keypad)
    ser.write(b"TYPE " + b"1" * 5000 + b"\n*IDN?\n")
    refusal, ident = answer_lines(ser, 2)
    assert refusal == b"ERR line too long (more than 1024 bytes), discarded"
    assert ident == b"OK STS-RIG,KEYPAD-INJECTOR,EMU0001,1.0"
    ser.write(b"LAST?\n")
    assert answer_lines(ser, 1) == [b"OK"]  # not one of the 5000 keys was pressed


def test_keypad_names_undecodable_bytes(emu):
    ser = keypad(emu.keypad)
    ser.write(b"\xff\xfe 1\n")
    assert answer_lines(ser, 1) == [b"ERR unknown command '\\xff\\xfe'"]


def test_keypad_answers_each_of_2000_random_lines_then_identifies(emu):
    rng = random.Random(1500)
    lines = [rng.randbytes(rng.randrange(41)).replace(b"\n", b"") for _ in range(2000)]
    expected = sum(1 for raw in lines if raw.strip(b" \t\r"))
    ser = keypad(emu.keypad)
    writer = threading.Thread(  # writes while this thread reads, as a client does
        target=ser.write, args=(b"".join(raw + b"\n" for raw in lines) + b"*IDN?\n",))
    writer.start()
    got = read_until(ser, lambda b: b.endswith(b"OK STS-RIG,KEYPAD-INJECTOR,EMU0001,1.0\r\n"),
                     seconds=30)
    writer.join()
    answers = got.split(b"\r\n")[:-2]
    assert len(answers) == expected
    assert all(a.startswith(b"ERR ") for a in answers), [a for a in answers if a[:4] != b"ERR "]


# --- 10: the optical port -----------------------------------------------------------------

def test_burst_of_sign_ons_is_answered_once(emu):
    ser = optical(emu.optical)
    ser.write(b"/?!\r\n" * 60)
    ident = read_until(ser, lambda b: b.endswith(b"\r\n"))
    assert ident.startswith(IDENT)
    switch_to_offered_baud(ser, ident, mode=b"0")
    rest = read_until(ser, readout_frame, seconds=10)
    assert IDENT not in rest, "a stale sign-on was answered"
    assert rest.startswith(STX) and b"C.50.0(" in rest


@pytest.mark.parametrize("garbage", [SOH + b"R1garbage", SOH, ACK, ACK + b"05", b"/?abc/",
                                     b"\x00\xff" * 50, SOH + STX + b"(" * 20])
def test_sign_on_after_garbage_is_answered(emu, garbage):
    ser = optical(emu.optical)
    ser.write(garbage + b"/?!\r\n")
    ident = read_until(ser, lambda b: b.endswith(b"\r\n"))
    assert ident.startswith(IDENT)


def test_new_sign_on_discards_the_answer_being_sent(emu):
    """A readout is long at 300 baud: a sign-on in the middle of it ends it."""
    ser = optical(emu.optical)
    ser.write(b"/?!\r\n")
    read_until(ser, lambda b: b.endswith(b"\r\n"))
    ser.write(ACK + b"000\r\n")  # readout at 300 baud: some seconds long
    read_until(ser, lambda b: STX in b)
    ser.write(b"/?!\r\n")
    rest = read_until(ser, lambda b: IDENT in b and b.endswith(b"\r\n"), seconds=10)
    assert b"!\r\n" + ETX not in rest, "the readout was sent to its end"


# --- 11: SCPI lines -----------------------------------------------------------------------

def test_scpi_line_of_1000_waveform_queries_is_refused(emu):
    scope = Scpi(emu.instruments["scope"])
    scope.send(b";".join([b":WAV:DATA?"] * 1000) + b"\n")
    assert scope.query("SYST:ERR?") == '-223,"Too much data: line longer than 4096 bytes"'
    assert scope.query("SYST:ERR?") == '0,"No error"'
    assert scope.query("*IDN?") == "STS-RIG,EMU-SCOPE,EMU0004,1.0"


def test_scpi_commands_past_the_limit_are_not_served(emu):
    dmm = Scpi(emu.instruments["dmm"])
    answer = dmm.query(";".join(["*IDN?"] * 100))
    assert answer.split(";") == ["STS-RIG,EMU-DMM,EMU0003,1.0"] * 64
    assert dmm.query("SYST:ERR?") == ('-223,"Too much data: 100 commands in one line, '
                                      'the first 64 served"')
    assert dmm.query("SYST:ERR?") == '0,"No error"'


def test_scpi_answer_of_one_line_is_bounded(emu):
    scope = Scpi(emu.instruments["scope"])
    # the relay is open (no credit), so CHAN1 stays at 0 V: a pattern trigger on CH1 low
    # with a 1 ms timeout fires at once
    scope.send(b':TRIG:MODE PATT;:TRIG:LEV 50,CHAN1;:TRIG:PATT "0X";:TRIG:PATT:QUAL TIM;'
               b":TRIG:PATT:GRE 0.001;:SING\n")
    assert scope.query(":TER?") == "+1"
    scope.send(b":WAV:FORM ASC;:WAV:POIN 10000\n")
    one = scope.query(":WAV:DATA?")
    assert len(one.split(",")) == 10000
    fit = ((1 << 20) + 1) // (len(one) + 1)  # whole answers in 1 MiB, with ';' between
    assert fit < 40
    answer = scope.query(";".join([":WAV:DATA?"] * 40))
    assert len(answer.split(";")) == fit
    assert scope.query("SYST:ERR?") == ('-223,"Too much data: the answer to one line would '
                                        'pass 1048576 bytes"')


def test_scpi_over_long_line_without_newline_is_discarded_to_its_end(emu):
    load = Scpi(emu.instruments["load"])
    load.send(b"A" * 70_000)
    load.send(b"\n")
    assert load.query("SYST:ERR?") == '-223,"Too much data: line longer than 4096 bytes"'
    assert load.query("SYST:ERR?") == '0,"No error"'


# --- 3: the emulator's life ---------------------------------------------------------------

def spawn(tmp_path: Path, *args: str) -> tuple[subprocess.Popen, dict]:
    env = {**os.environ, "TMPDIR": str(tmp_path / "tmp")}
    (tmp_path / "tmp").mkdir(exist_ok=True)
    proc = subprocess.Popen([sys.executable, "-m", "emulator", "--speed", "1000", *args],
                            cwd=tmp_path, env={**env, "PYTHONPATH": str(ROOT)},
                            stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE)
    line = proc.stdout.readline()
    if not line:
        proc.kill()
        raise AssertionError(f"emulator did not start: {proc.communicate()[1]!r}")
    return proc, json.loads(line)


def stop(proc: subprocess.Popen) -> None:
    if proc.poll() is None:
        proc.terminate()
        proc.wait(timeout=10)


def test_emulator_stops_cleanly_when_its_stdin_closes(tmp_path):
    state = tmp_path / "meter.json"
    proc, _ = spawn(tmp_path, "--exit-on-stdin-eof", "--state", str(state))
    try:
        proc.stdin.close()
        assert proc.wait(timeout=20) == 0
        assert json.loads(state.read_text())["credit"]  # saved as on SIGTERM
    finally:
        stop(proc)


PARENT = """
import subprocess, sys
child = subprocess.Popen([sys.executable, "-m", "emulator", "--exit-on-stdin-eof"],
                         stdin=subprocess.PIPE, stdout=subprocess.PIPE)
print(child.pid if child.stdout.readline() else "did not start", flush=True)
sys.stdin.read()
"""


def gone(pid: int) -> bool:
    try:
        return "zombie" in Path(f"/proc/{pid}/status").read_text()
    except FileNotFoundError:
        return True


def test_emulator_stops_when_its_parent_is_killed(tmp_path):
    parent = subprocess.Popen([sys.executable, "-c", PARENT], cwd=ROOT, stdin=subprocess.PIPE,
                              stdout=subprocess.PIPE, text=True)
    line = parent.stdout.readline().strip()
    assert line.isdigit(), f"the emulator {line or 'did not start'}"
    child = int(line)
    parent.kill()  # SIGKILL: no chance to clean up, the pipe to the child's stdin closes
    parent.wait()
    end = time.monotonic() + 20
    while not gone(child) and time.monotonic() < end:
        time.sleep(0.05)
    alive = not gone(child)
    if alive:
        os.kill(child, 15)
    assert not alive, "the emulator outlived the process that started it"


def test_emulator_without_the_flag_outlives_its_stdin(tmp_path):
    proc, info = spawn(tmp_path)
    try:
        proc.stdin.close()
        with pytest.raises(subprocess.TimeoutExpired):
            proc.wait(timeout=1.5)
        dmm = Scpi(info["instruments"]["dmm"])
        assert dmm.query("*IDN?") == "STS-RIG,EMU-DMM,EMU0003,1.0"
        dmm.close()
    finally:
        stop(proc)
    assert proc.returncode == 0


def test_without_state_file_nothing_is_written_and_power_cycles_keep_the_credit(tmp_path):
    from emulator_wire_support import bench_vendor

    proc, info = spawn(tmp_path, "--exit-on-stdin-eof")
    try:
        pad = keypad(info["keypad"])
        token = bench_vendor().credit(0, "7.5")
        pad.write(f"TYPE {token.digits}# 5 5\n".encode())
        assert answer_lines(pad, 1)[0].startswith(b"OK ")
        source = Scpi(info["instruments"]["source"])
        source.send(b"OUTP OFF\n")
        assert source.query("OUTP?") == "0"
        source.send(b"OUTP ON\n")
        assert source.query("OUTP?") == "1"
        ser = optical(info["optical"])
        ser.write(b"/?!\r\n")
        ident = read_until(ser, lambda b: b.endswith(b"\r\n"))
        switch_to_offered_baud(ser, ident, mode=b"0")
        frame = read_until(ser, readout_frame, seconds=10)
        assert b"C.50.0(7.500*kWh)" in frame
        assert b"C.59.0(1)" in frame  # one outage, so the credit lived through a power cycle
        proc.stdin.close()
        assert proc.wait(timeout=20) == 0
    finally:
        stop(proc)
    assert sorted(p.name for p in tmp_path.rglob("*")) == ["tmp"]
