"""Byte-level tests of the drivers: a scripted peer on the real wire (a pty for the serial
drivers, a TCP socket for pyvisa-py) expects exact bytes and answers exact bytes; any byte
out of place, or a reply left unread, fails the test."""

from __future__ import annotations

import socket
import threading

import pytest

from drivers.iec62056 import bcc, command
from drivers.instruments import AcLoad, AcSource, Dmm, InstrumentError, Scope
from drivers.keypad import KeypadInjector
from drivers.optical import BCCError, ModeEError, OpticalPort
from tests.scripted_peer import ScriptedSerialPeer

STX, ETX, SOH, ACK = b"\x02", b"\x03", b"\x01", b"\x06"


def frame(body: bytes) -> bytes:
    return STX + body + ETX + bytes([bcc(body + ETX)])


IDENT = b"/EMu5STS-EMU-1.0.0\r\n"


def test_bcc_vectors():
    # IEC 62056-21 BCC vectors (../shared/bench/METER.md §4.3)
    assert bcc(b"P0\x02(1234567)\x03") == ord("P")
    assert bcc(b"B0\x03") == 0x71
    assert bcc(b"R1\x02C.1.0()\x03") == ord("!")
    assert bcc(b"(00012.34*kWh)\x03") == ord("f")
    assert command("P1", "(00000000)") == SOH + b"P1" + STX + b"(00000000)" + ETX + b"a"


def test_optical_readout_exchange():
    data = b"C.1.0(47123456783)\r\n1.8.0(000012.345*kWh)\r\n!\r\n"
    peer = ScriptedSerialPeer([(b"/?!\r\n", IDENT), (ACK + b"050\r\n", frame(data))])
    with OpticalPort(peer.path) as port:
        regs = port.readout()
    peer.finish()
    assert [(r.obis, r.value, r.unit) for r in regs] == [
        ("C.1.0", "47123456783", ""), ("1.8.0", "000012.345", "kWh")]


def test_optical_programming_read_with_address_and_password():
    peer = ScriptedSerialPeer([
        (b"/?47123456783!\r\n", IDENT),
        (ACK + b"051\r\n", SOH + b"P0" + STX + b"(47123456783)" + ETX
         + bytes([bcc(b"P0\x02(47123456783)\x03")])),
        (command("P1", "(12345678)"), ACK),
        (command("R1", "C.50.0()"), frame(b"C.50.0(12.500*kWh)")),
        (command("B0"), b""),
    ])
    with OpticalPort(peer.path, address="47123456783", password="12345678") as port:
        reg = port.read("C.50.0")
    peer.finish()
    assert (reg.obis, reg.value, reg.unit) == ("C.50.0", "12.500", "kWh")


def test_optical_bcc_error_names_the_step_and_bytes():
    bad = STX + b"C.1.0(1)\r\n!\r\n" + ETX + b"\x00"
    peer = ScriptedSerialPeer([(b"/?!\r\n", IDENT), (ACK + b"050\r\n", bad)])
    with OpticalPort(peer.path) as port, pytest.raises(BCCError) as err:
        port.readout()
    peer.finish()
    assert err.value.step == "readout" and err.value.received == bad


def test_optical_mode_e_meter_is_reported():
    peer = ScriptedSerialPeer([(b"/?!\r\n", b"/HXE5\\2HXE310-KP\r\n")])
    with OpticalPort(peer.path) as port, pytest.raises(ModeEError, match="mode E"):
        port.identify()
    peer.finish()


def test_keypad_exchange():
    peer = ScriptedSerialPeer([
        (b"*IDN?\n", b"OK ACME,INJ-12,0007,2.1\r\n"),
        (b"TYPE 12345678901234567890# 65 500\n", b"OK 1.000000 12.500000\r\n"),
        (b"PRESS BS 80\n", b"OK 13.000000\r\n"),
        (b"LAST? 3\n", b"OK 90#\r\n"),
    ])
    with KeypadInjector(peer.path) as keypad:
        assert keypad.identify() == "ACME,INJ-12,0007,2.1"
        assert keypad.type_token("1234-5678-9012-3456-7890") == (1.0, 12.5)
        assert keypad.press("BS", 80) == 13.0
        assert keypad.last(3) == "90#"
    peer.finish()


class ScriptedScpi:
    """A TCP instrument that expects exact lines and answers exact lines."""

    def __init__(self, script: list[tuple[str, str | None]]) -> None:
        self.server = socket.create_server(("127.0.0.1", 0))
        self.resource = f"TCPIP::127.0.0.1::{self.server.getsockname()[1]}::SOCKET"
        self.script = script
        self.error: str | None = None
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def _run(self) -> None:
        conn, _ = self.server.accept()
        buf = b""
        with conn:
            conn.settimeout(5)
            for i, (expected, reply) in enumerate(self.script):
                while b"\n" not in buf:
                    chunk = conn.recv(4096)
                    if not chunk:
                        self.error = f"step {i}: connection closed, expected {expected!r}"
                        return
                    buf += chunk
                line, buf = buf.split(b"\n", 1)
                if line.decode() != expected:
                    self.error = f"step {i}: expected {expected!r}, got {line.decode()!r}"
                    return
                if reply is not None:
                    conn.sendall(reply.encode() + b"\n")
            try:  # nothing more may come before the client hangs up
                while chunk := conn.recv(4096):
                    buf += chunk
            except OSError:
                pass
            if buf:
                self.error = f"unexpected after the script: {buf!r}"

    def finish(self) -> None:
        self.thread.join(timeout=10)
        self.server.close()
        assert self.error is None, self.error


NOERR = ("SYST:ERR?", '0,"No error"')


def test_source_exchange_and_safe_state():
    inst = ScriptedScpi([("*IDN?", "ACME,AC1,1,1.0"), ("SOUR:VOLT 230.000", None), NOERR,
                         ("OUTP ON", None), NOERR, ("MEAS:VOLT?", "229.9"),
                         ("OUTP OFF", None), NOERR, ("*RST", None)])
    with AcSource(inst.resource) as source:
        source.voltage = 230
        source.output = True
        assert source.measure_voltage() == 229.9
    inst.finish()


def test_the_instrument_link_sends_each_command_at_once():
    """Nagle's algorithm is off on the instrument's TCP socket: with it on, the SYST:ERR?
    after each setting waited for the instrument's delayed ACK (40 ms on Linux), about
    15 s of a plan run. pyvisa-py keeps VI_ATTR_TCPIP_NODELAY without applying it, so the
    driver sets the socket itself."""
    inst = ScriptedScpi([("*IDN?", "ACME,AC1,1,1.0"), ("OUTP OFF", None), NOERR,
                         ("*RST", None)])
    with AcSource(inst.resource) as source:
        res = source._res
        sock = res.visalib.sessions[res.session].interface
        assert sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY) != 0
    inst.finish()


def test_chroma_source_uses_its_own_commands():
    from drivers.instruments import Chroma61500

    inst = ScriptedScpi([("*IDN?", "Chroma ATE 61500,123456,1.00,1.01,1.02"),
                         (":SOUR:VOLT:RANG HIGH", None), NOERR,  # bring-up: the 300 V range
                         (":SOUR:VOLT:AC 230.0", None), NOERR,
                         (":FETC:POW:AC?", "1000.5"), (":OUTP OFF", None), NOERR,
                         ("*RST", None)])
    with Chroma61500(inst.resource) as source:
        assert (source.identity.manufacturer, source.identity.model) == ("Chroma ATE", "61500")
        assert source.identity.firmware == "1.00,1.01,1.02"
        source.voltage = 230
        assert source.measure_power() == 1000.5
    inst.finish()


def test_load_scpi_error_is_an_exception_and_load_ends_safe():
    inst = ScriptedScpi([("*IDN?", "ACME,LOAD,1,1.0"), ("CURR 5.0000", None),
                         ("SYST:ERR?", '-222,"Data out of range"'), NOERR,
                         ("LOAD OFF", None), NOERR,  # safe state on the complaint
                         ("LOAD OFF", None), NOERR, ("*RST", None)])  # and at close
    with AcLoad(inst.resource) as load, pytest.raises(InstrumentError, match="-222"):
        load.current = 5
    inst.finish()


def test_dmm_and_scope_exchange():
    dmm = ScriptedScpi([("*IDN?", "ACME,DMM,1,1.0"), ("MEAS:VOLT:AC?", "230.1"), ("*RST", None)])
    with Dmm(dmm.resource) as meter:
        assert meter.measure_voltage_ac() == 230.1
    dmm.finish()
    scope = ScriptedScpi([("*IDN?", "ACME,SCOPE,1,1.0"), (":TER?", "+1"),
                          (":MEASure:DELay? CHANnel2,CHANnel1", "+3.12E-02"), ("*RST", None)])
    with Scope(scope.resource) as sc:
        assert sc.triggered()
        assert sc.delay(2, 1) == 0.0312
    scope.finish()
