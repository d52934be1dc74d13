"""The drivers against the emulated bench, through the real wires (ptys and TCP sockets).

Each test starts `python -m emulator` and talks to it only through pyserial and pyvisa-py,
exactly as the rig does with a real bench.
"""

from __future__ import annotations

import socket
import threading
import time

import pytest

import sts
from drivers.instruments import AcLoad, AcSource, Dmm, InstrumentError, InstrumentTimeout, Scope
from drivers.keypad import KeypadError, KeypadInjector
from drivers.optical import BCCError, NoAnswerError, OpticalPort
from emulator.setup import MeterSetup


@pytest.fixture
def vendor() -> sts.Vendor:
    setup = MeterSetup.default()
    return sts.Vendor(setup.decoder_key, ea=setup.ea, base_date=setup.base_date)


def wait_entry(port: OpticalPort, before: str, timeout: float = 10.0) -> str:
    end = time.monotonic() + timeout
    while port.read("C.52.2").value == before:
        assert time.monotonic() < end, "the meter showed no result"
        time.sleep(0.02)
    return port.read("C.52.0").value


def test_optical_readout_and_programming_read(start_emulator):
    emu = start_emulator("--speed", "100")
    with OpticalPort(emu.optical) as port:
        ident = port.identify()
        assert (ident.manufacturer, ident.baud_char, ident.fast_reaction) == ("EMu", "6", True)
        registers = {r.obis: r for r in port.readout()}
        assert registers["C.1.0"].value == "47123456783"
        assert registers["C.1.1"].value == "600727471234567834"
        assert registers["1.8.0"].unit == "kWh" and registers["32.7.0"].unit == "V"
        assert not any("key" in r.obis.lower() or (len(r.value) in (16, 32) and
                       all(c in "0123456789abcdef" for c in r.value)) for r in registers.values())
        assert port.read("C.53.3").value == "123456"
        assert port.read("32.7.0").value == "230.0"


def test_token_typed_and_accepted_then_used(start_emulator, vendor):
    emu = start_emulator("--speed", "200")
    token = vendor.credit(0, "12.5")
    with OpticalPort(emu.optical) as port, KeypadInjector(emu.keypad) as keypad:
        assert keypad.identify().startswith("STS-RIG,KEYPAD-INJECTOR")
        before = port.read("C.52.2").value
        keypad.type_token(token.digits)
        assert wait_entry(port, before) == "ACCEPT"
        assert port.read("C.56.0").value == "BENAR"
        assert port.read("C.50.0").value == "12.500"
        assert keypad.last(21) == token.digits + "#"
        before = port.read("C.52.2").value
        keypad.type_token(token.digits)
        assert wait_entry(port, before) == "USED"
        assert port.read("C.50.0").value == "12.500"


def test_wrong_token_length_refused_before_any_key(start_emulator):
    emu = start_emulator("--speed", "200")
    with KeypadInjector(emu.keypad) as keypad:
        with pytest.raises(KeypadError, match="19 digits"):
            keypad.type_token("1234567890123456789")
        with pytest.raises(KeypadError, match="other than digits"):
            keypad.type_token("1234567890123456789x")
        assert keypad.last() == ""
        with pytest.raises(KeypadError, match="unknown command"):
            keypad._ask("FOO 1")


def test_each_instrument_set_and_read_back(start_emulator):
    emu = start_emulator("--speed", "100")
    inst = emu.instruments
    with AcSource(inst["source"]) as source, AcLoad(inst["load"]) as load, \
            Dmm(inst["dmm"]) as dmm, Scope(inst["scope"]) as scope:
        assert source.idn.startswith("STS-RIG,EMU-ACSOURCE")
        source.voltage = 220
        source.frequency = 50
        source.output = True
        assert (source.voltage, source.frequency, source.output) == (220.0, 50.0, True)
        assert scope.idn.startswith("STS-RIG,EMU-SCOPE")
        load.mode = "CURR"
        load.current = 2.5
        load.on = True
        assert (load.mode, load.current, load.on) == ("CURR", 2.5, True)
        # no credit: the relay is open, so the load terminals are dead
        assert dmm.measure_voltage_ac() == 0.0
        with pytest.raises(ValueError, match="out of range"):
            source.voltage = 400  # refused before anything is sent
    with AcSource(inst["source"]) as source:
        assert source.output is False  # close() left it safe
    with AcLoad(inst["load"]) as load:
        assert load.on is False


def test_scpi_error_in_the_queue_is_an_exception(start_emulator):
    emu = start_emulator()
    with AcSource(emu.instruments["source"]) as source:
        with pytest.raises(InstrumentError, match='-113,"Undefined header"'):
            source.write("SOUR:VOLTAGEX 5")
        source._res.write("OUTP MAYBE")
        assert "-104" in source.query("SYST:ERR?")
        assert source.query("SYST:ERR?").startswith("0,")


def test_instrument_that_does_not_answer_times_out():
    server = socket.create_server(("127.0.0.1", 0))
    port = server.getsockname()[1]
    conns = []
    threading.Thread(target=lambda: conns.append(server.accept()), daemon=True).start()
    try:
        with pytest.raises(InstrumentTimeout, match=r"no answer to '\*IDN\?'"):
            Dmm(f"TCPIP::127.0.0.1::{port}::SOCKET", timeout_ms=300)
    finally:
        server.close()


def test_reaction_time_is_never_less_than_the_meters(start_emulator):
    """tr as the driver measures it (request written to the first character, less that
    character's wire time): the emulated meter waits its declared 20 ms, and the host can
    only add to that; the identification is read whole, so the next sign-on works."""
    emu = start_emulator()
    with OpticalPort(emu.optical) as port:
        ident, tr = port.timed_identify()
        assert tr >= 0.020 and ident.manufacturer == "EMu"
        assert port.identify().manufacturer == "EMu"


def test_bcc_error_is_reported_with_the_bytes(start_emulator):
    emu = start_emulator("--fault", "bad-bcc")
    with OpticalPort(emu.optical) as port:
        with pytest.raises(BCCError, match="block check character") as err:
            port.readout()
        assert err.value.step == "readout"
        assert err.value.received.startswith(b"\x02")


def test_meter_that_stops_answering_mid_readout(start_emulator):
    emu = start_emulator("--speed", "10")
    port = OpticalPort(emu.optical, timeout=1.0, retries=0)
    port.baud_change = False  # stay at 300 baud: the readout takes ~25 s
    killer = threading.Timer(3.0, emu.proc.kill)
    killer.start()
    try:
        with pytest.raises(NoAnswerError) as err:
            port.readout()
        assert err.value.step == "readout"
        assert 0 < len(err.value.received) < 700  # part of the readout arrived
    finally:
        killer.cancel()
        port._ser.close()


def test_relay_edge_seen_by_the_scope_at_the_set_delay(start_emulator, vendor):
    emu = start_emulator("--speed", "50")
    with OpticalPort(emu.optical) as port, KeypadInjector(emu.keypad) as keypad, \
            Scope(emu.instruments["scope"]) as scope:
        before = port.read("C.52.2").value
        keypad.type_token(vendor.credit(0, "5").digits)
        assert wait_entry(port, before) == "ACCEPT"
        time.sleep(0.1)
        assert port.read("C.51.0").value == "1"
        scope.arm_dropout(level=50, hold_s=0.05, scale_s=0.05)  # the press on the screen
        keypad.type_keys("01#")
        scope.wait_triggered(timeout_s=10)
        # the profile's operate time: 30 ms +/- 10 ms from ENTER's release (the meter acts on
        # it), timed by the scope alone; the dropout trigger may sit up to half a
        # millisecond before the contact (the last instant the sine was past 50 V)
        delay = scope.delay(2, 1)
        assert 0.019 <= delay - scope.pulse_width(2) <= 0.0405
        # from ENTER pressed: press time (65 ms) + operate time, plus the injector's own
        # latency in scheduling the key release (a fraction of a ms of real time x speed)
        assert 0.065 + 0.019 <= delay <= 0.065 + 0.0405 + 0.05
        _times, volts = scope.waveform(1, points=200)
        assert len(volts) == 200 and max(abs(v) for v in volts[:90]) > 200
        assert max(abs(v) for v in volts[110:]) == 0.0


def test_credit_runs_down_under_load_until_the_relay_opens(start_emulator, vendor):
    emu = start_emulator("--speed", "1000")
    with OpticalPort(emu.optical) as port, KeypadInjector(emu.keypad) as keypad, \
            AcLoad(emu.instruments["load"]) as load:
        before = port.read("C.52.2").value
        keypad.type_token(vendor.credit(0, "0.1").digits)
        assert wait_entry(port, before) == "ACCEPT"
        load.draw_power(1000.0)  # 0.1 kWh at 1 kW: 360 s of bench time, 0.36 s here
        end = time.monotonic() + 10
        while port.read("C.51.0").value == "1":
            assert time.monotonic() < end, "the relay never opened"
            time.sleep(0.05)
        assert port.read("C.51.3").value == "CREDIT"
        assert float(port.read("C.50.0").value) == 0.0
        assert load.measure_current() == 0.0


def test_power_cycle_keeps_credit_and_tid_store(start_emulator, vendor):
    emu = start_emulator("--speed", "200")
    token = vendor.credit(0, "3")
    with OpticalPort(emu.optical) as port, KeypadInjector(emu.keypad) as keypad, \
            AcSource(emu.instruments["source"]) as source:
        before = port.read("C.52.2").value
        keypad.type_token(token.digits)
        assert wait_entry(port, before) == "ACCEPT"
        source.output = False
        time.sleep(0.05)
        with pytest.raises(NoAnswerError):  # no supply, no optical port
            OpticalPort(emu.optical, timeout=0.3, retries=0).identify()
        source.output = True
        time.sleep(0.05)
        assert port.read("C.50.0").value == "3.000"
        assert port.read("C.59.0").value == "1"
        before = port.read("C.52.2").value
        keypad.type_token(token.digits)
        assert wait_entry(port, before) == "USED"


def test_line_noise_on_every_wire_is_survived(start_emulator):
    emu = start_emulator()
    import serial

    with serial.Serial(emu.optical, 9600, timeout=0.5) as raw:
        raw.write(b"\x00\xff garbage !\r\n\x01\x02\x03zz")
    with serial.Serial(emu.keypad, 115200, timeout=2) as raw:
        raw.write(b"\x00\xffnonsense\n")
        assert raw.readline().startswith(b"ERR")
    with socket.create_connection(("127.0.0.1", int(emu.instruments["dmm"].split("::")[2]))) \
            as sock:
        sock.sendall(b"\x00\xff!!\nSYST:ERR?\n")
        assert sock.recv(100).startswith(b"-113")
    with OpticalPort(emu.optical) as port:  # still answers as the standard says
        assert port.identify().manufacturer == "EMu"
    assert emu.proc.poll() is None


ERROR_BCC = 0x5A  # XOR of "(ERROR)" ETX
READ_BCC = 0x5B   # XOR of "R1" STX "0.9.1()" ETX


def test_probe_and_a_wrong_password_on_the_wire(start_emulator):
    """The plans' probes of the optical port: the emulated meter keeps silent to what no
    client should send, answers a request behind noise, NAKs a bad BCC in a session, and a
    wrong password opens nothing (NAK, then (ERROR) for the read)."""
    emu = start_emulator()
    with OpticalPort(emu.optical) as port:
        assert port.probe(b"hello\x00\x7f", wait_s=0.3) == b""
        assert port.probe(b"\x15", wait_s=0.3) == b""  # a NAK on the idle link
        assert port.probe(b"\x06051\r\x00", after="identification", wait_s=0.3) == b""
        assert port.probe(b"xx/?12/?!\r\n", wait_s=1.2) == b"/EMu6STS-EMU-1.0.0\r\n"
        spoiled = b"\x01R1\x020.9.1()\x03" + bytes([READ_BCC ^ 0x01])
        assert port.probe(spoiled, after="session", wait_s=0.3) == b"\x15"
        with pytest.raises(ValueError, match="probe after 'later': use idle"):
            port.probe(b"", after="later")
        p1, r1 = port.read_with_password("0.9.1", "11111111")
        assert (p1, r1) == (b"\x15", b"\x02(ERROR)\x03" + bytes([ERROR_BCC]))
        assert port.read("0.9.1").value  # the right password still opens it
