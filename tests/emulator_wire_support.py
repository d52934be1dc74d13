"""Minimal wire clients for the emulated bench's own tests: a raw IEC 62056-21 mode C client
on pyserial, a keypad injector line client on pyserial, and a SCPI client on a raw socket.

They are deliberately independent of drivers/ so the emulator's wire behaviour is checked
byte for byte, and a vendor holding the keys of rig/benches/emulated.toml.
"""

from __future__ import annotations

import contextlib
import socket
import termios
import time
import tomllib
from collections.abc import Callable
from pathlib import Path

import serial

import sts
from drivers.iec62056 import BAUD_MODE_C, parse_identification

ROOT = Path(__file__).resolve().parent.parent
EMULATED_BENCH = ROOT / "rig" / "benches" / "emulated.toml"
SOH, STX, ETX, ACK, NAK = b"\x01", b"\x02", b"\x03", b"\x06", b"\x15"


def bcc(data: bytes) -> int:
    value = 0
    for b in data:
        value ^= b
    return value & 0x7F


def bench_keys(path: Path = EMULATED_BENCH) -> dict:
    with path.open("rb") as fh:
        data = tomllib.load(fh)
    return {"pan": data["meter"]["pan"], **data["meter"]["keys"]}


def decoder_key(keys: dict) -> bytes:
    return sts.derive_decoder_key(
        dkga=keys["dkga"], vending_key=bytes.fromhex(keys["vending_key"]), pan=keys["pan"],
        sgc=keys["sgc"], ti=keys["ti"], krn=keys["krn"], kt=keys["kt"],
        base_date=keys["base_date"], ea=keys["ea"])


def bench_vendor(path: Path = EMULATED_BENCH) -> sts.Vendor:
    """A vendor for the emulated meter: the decoder key derived from the bench file's keys."""
    keys = bench_keys(path)
    return sts.Vendor(decoder_key(keys), ea=keys["ea"], base_date=keys["base_date"],
                      kt=keys["kt"])


class WireTimeout(AssertionError):
    """Nothing (complete) came back in time; carries what did."""

    def __init__(self, what: str, received: bytes) -> None:
        super().__init__(f"{what}: no complete answer, received {received!r}")
        self.received = received


def frame_end(buf: bytes) -> int:
    """Length of a complete answer at the front of buf: ACK, NAK, or ... ETX BCC."""
    if buf[:1] in (ACK, NAK):
        return 1
    i = buf.find(ETX)
    return i + 2 if 0 <= i < len(buf) - 1 else 0


def line_end(buf: bytes) -> int:
    i = buf.find(b"\r\n")
    return i + 2 if i >= 0 else 0


class ModeC:
    """Raw IEC 62056-21 mode C client: 300 baud 7E1, then the agreed rate."""

    def __init__(self, path: str, timeout: float = 2.0) -> None:
        self.timeout = timeout
        try:
            self.ser = serial.Serial(path, 300, bytesize=7, parity="E", timeout=0.02)
        except (termios.error, serial.SerialException):  # some ptys refuse 7E1 (EINVAL)
            self.ser = serial.Serial(path, 300, timeout=0.02)
        self.session = False

    def close(self) -> None:
        self.ser.close()

    def baud(self, rate: int) -> None:
        if self.ser.baudrate != rate:
            with contextlib.suppress(termios.error, serial.SerialException):
                self.ser.baudrate = rate  # a pty has no line speed: refused, and harmless

    def send(self, data: bytes) -> None:
        self.ser.write(data)
        self.ser.flush()

    def read_until(self, done: Callable[[bytes], int], what: str,
                   timeout: float | None = None) -> bytes:
        end = time.monotonic() + (timeout or self.timeout)
        buf = b""
        while time.monotonic() < end:
            buf += self.ser.read(max(1, self.ser.in_waiting))
            n = done(buf) if buf else 0
            if n:
                return buf[:n]
        raise WireTimeout(what, buf)

    def read_for(self, seconds: float) -> bytes:
        """Everything that arrives within `seconds` (for checking silence)."""
        end = time.monotonic() + seconds
        buf = b""
        while time.monotonic() < end:
            buf += self.ser.read(max(1, self.ser.in_waiting))
        return buf

    def command(self, cmd: str, data: str | None = None, *, spoil: bool = False) -> bytes:
        body = cmd.encode() + (STX + data.encode() if data is not None else b"") + ETX
        return SOH + body + bytes([bcc(body) ^ (0x01 if spoil else 0)])

    def sign_on(self, address: str = "") -> bytes:
        self.session = False
        self.baud(300)
        self.ser.reset_input_buffer()
        self.send(b"/?" + address.encode() + b"!\r\n")
        ident = self.read_until(line_end, "identification")
        self.offered = parse_identification(ident).baud_char
        return ident

    offered = "0"  # the baud char of the last identification (mode C)

    def option(self, mode: str, baud_char: str | None = None) -> None:
        """Option select; by default at the baud rate the identification offered."""
        char = self.offered if baud_char is None else baud_char
        self.send(ACK + f"0{char}{mode}".encode() + b"\r\n")
        self.baud(BAUD_MODE_C.get(char, 300))

    def readout_frame(self, baud_char: str | None = None) -> bytes:
        self.sign_on()
        self.option("0", baud_char)
        return self.read_until(frame_end, "readout", timeout=self.timeout + 40)

    def readout(self) -> dict[str, tuple[str, str]]:
        frame = self.readout_frame()
        assert frame[:1] == STX and frame[-1] == bcc(frame[1:-1]), f"bad frame {frame!r}"
        return parse_data_sets(frame[1:-2].decode())

    def open_programming(self, password: str = "00000000") -> bytes:
        """Sign on, select programming mode, send the password; the P1 answer."""
        self.sign_on()
        self.option("1")
        operand = self.read_until(frame_end, "P0")
        assert operand[:3] == SOH + b"P0", operand
        self.send(self.command("P1", f"({password})"))
        answer = self.read_until(frame_end, "P1")
        self.session = answer == ACK
        return answer

    def ask(self, cmd: str, data: str | None = None, **kw) -> bytes:
        self.send(self.command(cmd, data, **kw))
        return self.read_until(frame_end, cmd)

    def read(self, address: str) -> tuple[str, str] | None:
        """(value, unit) of one register in a programming session; None for (ERROR)."""
        for attempt in range(2):
            if not self.session:
                assert self.open_programming() == ACK
            try:
                frame = self.ask("R1", f"{address}()")
            except WireTimeout:
                self.session = False  # the meter went back to start
                if attempt:
                    raise
                continue
            assert frame[-1] == bcc(frame[1:-1]), f"bad BCC in {frame!r}"
            text = frame[1:-2].decode()
            if text == "(ERROR)":
                return None
            return parse_data_sets(text)[address]
        raise AssertionError("unreachable")

    def reg(self, address: str) -> str:
        found = self.read(address)
        assert found is not None, f"no register {address}"
        return found[0]

    def number(self, address: str) -> float:
        return float(self.reg(address))

    def end(self) -> None:
        self.send(self.command("B0"))
        self.session = False


def parse_data_sets(block: str) -> dict[str, tuple[str, str]]:
    out: dict[str, tuple[str, str]] = {}
    for line in block.replace("\r\n", "\n").split("\n"):
        if not line or line == "!":
            continue
        address, _, rest = line.partition("(")
        value, _, unit = rest.rstrip(")").partition("*")
        out[address] = (value, unit)
    return out


class Keypad:
    """The injector's line protocol over pyserial."""

    def __init__(self, path: str, timeout: float = 10.0) -> None:
        self.ser = serial.Serial(path, 115200, timeout=timeout)

    def close(self) -> None:
        self.ser.close()

    def ask(self, line: str | bytes) -> str:
        raw = line if isinstance(line, bytes) else line.encode() + b"\n"
        self.ser.write(raw)
        answer = self.ser.read_until(b"\r\n")
        assert answer.endswith(b"\r\n"), f"no answer line to {raw!r}: {answer!r}"
        return answer[:-2].decode("ascii")

    def ok(self, line: str) -> list[str]:
        answer = self.ask(line)
        assert answer.startswith("OK"), answer
        return answer.split()[1:]


class Scpi:
    """SCPI over a raw TCP socket, lines ended by \\n."""

    def __init__(self, resource: str, timeout: float = 5.0) -> None:
        _, host, port, _ = resource.split("::")
        self.sock = socket.create_connection((host, int(port)), timeout=timeout)
        self.buf = b""

    def close(self) -> None:
        self.sock.close()

    def write(self, line: str | bytes) -> None:
        self.sock.sendall(line if isinstance(line, bytes) else line.encode() + b"\n")

    def query(self, line: str) -> str:
        self.write(line)
        while b"\n" not in self.buf:
            chunk = self.sock.recv(65536)
            assert chunk, "the instrument closed the connection"
            self.buf += chunk
        answer, self.buf = self.buf.split(b"\n", 1)
        return answer.decode()

    def number(self, line: str) -> float:
        return float(self.query(line))

    def error(self) -> str:
        return self.query("SYST:ERR?")


class WireBench:
    """The emulated bench seen through its wires only."""

    def __init__(self, emu) -> None:
        self.emu = emu
        self.optical = ModeC(emu.optical)
        self.keypad = Keypad(emu.keypad)
        self.scpi = {role: Scpi(res) for role, res in emu.instruments.items()}

    def close(self) -> None:
        self.optical.close()
        self.keypad.close()
        for conn in self.scpi.values():
            conn.close()

    def type(self, keys: str, press_ms: float = 10, gap_ms: float = 20) -> tuple[float, float]:
        t_first, t_last = self.keypad.ok(f"TYPE {keys} {press_ms:g} {gap_ms:g}")
        return float(t_first), float(t_last)

    def enter(self, token: object, **kw) -> tuple[str, str]:
        """Type a token or code and ENTER: (outcome C.52.0, display C.56.0). The meter acts
        on ENTER's release, before the injector answers, so no waiting is needed."""
        before = int(self.optical.reg("C.52.2"))
        self.type(f"{token}#", **kw)
        assert int(self.optical.reg("C.52.2")) == before + 1, "the entry was not processed"
        return self.optical.reg("C.52.0"), self.optical.reg("C.56.0")

    def wait_for(self, address: str, value: str, timeout: float = 8.0) -> None:
        end = time.monotonic() + timeout
        while self.optical.reg(address) != value:
            assert time.monotonic() < end, f"{address} never became {value!r}"
            time.sleep(0.02)
