"""Inputs that never end, bounded: the emulated bench's control channel against a line
without end (TCP on 127.0.0.1), a vending key file that is a FIFO or /dev/zero, and an
optical readout trickling a byte every 50 ms for ever (a pty)."""

from __future__ import annotations

import os
import socket
from pathlib import Path

import pytest
from emulator_support import Bench
from hostile_support import HostilePty

from drivers.optical import READOUT_SLACK, DeadlineError, OpticalPort, wire_time
from emulator.control import MAX_LINE, ControlServer
from emulator.setup import MeterSetup
from rig.cli import main
from rig.meter.vendor import KEY_FILE_MAX, VendingKeyError, resolve_vending_key

ROOT_BENCH = Path(__file__).resolve().parent.parent / "rig" / "benches" / "emulated.toml"

# --- the control channel ------------------------------------------------------------------------


@pytest.fixture
def control():
    server = ControlServer(Bench().model)
    server.start()
    try:
        host, port = server.address.split(":")
        yield host, int(port)
    finally:
        server.stop()


def _answer(sock: socket.socket) -> bytes:
    data = b""
    while not data.endswith(b"\r\n"):
        chunk = sock.recv(4096)
        if not chunk:
            break
        data += chunk
    return data


def test_a_control_line_without_end_is_refused_and_the_connection_closed(control):
    with socket.create_connection(control, timeout=5) as sock:
        sock.sendall(b"A" * (MAX_LINE + 1000))  # no newline: more than a line may hold
        assert _answer(sock) == f"ERR line longer than {MAX_LINE} bytes\r\n".encode()
        assert sock.recv(100) == b""  # closed
    with socket.create_connection(control, timeout=5) as sock:  # and serving goes on
        sock.sendall(b"ACTIONS?\n")
        assert _answer(sock).startswith(b"OK terminal-cover-open,")


def test_a_control_line_at_the_limit_is_still_a_command(control):
    with socket.create_connection(control, timeout=5) as sock:
        sock.sendall(b"ACTIONS?" + b" " * (MAX_LINE - 9) + b"\n")
        assert _answer(sock).startswith(b"OK terminal-cover-open,")


# --- key files -----------------------------------------------------------------------------------


@pytest.fixture
def fifo(tmp_path):
    path = tmp_path / "vk.fifo"
    os.mkfifo(path)
    return path


def test_a_key_file_that_is_a_fifo_or_dev_zero_is_refused_naming_option_and_file(fifo,
                                                                                   tmp_path):
    with pytest.raises(VendingKeyError) as err:
        resolve_vending_key(f"file:{fifo}")  # opened without blocking, read not at all
    assert str(err.value) == (f"vending key (meter.keys.vending_key): key file {fifo} is not "
                              "a regular file (a FIFO)")
    with pytest.raises(VendingKeyError, match=r"key file /dev/zero is not a regular file \(a "
                                              r"character device\)"):
        resolve_vending_key("file:/dev/zero")
    big = tmp_path / "vk.hex"
    big.write_text("ab" * KEY_FILE_MAX)
    with pytest.raises(VendingKeyError, match=f"key file {big} holds more than "
                                              f"{KEY_FILE_MAX} bytes"):
        resolve_vending_key("file:vk.hex", base=tmp_path)


def _bench_with_key(tmp_path, ref: str):
    text = (ROOT_BENCH.read_text()
            .replace('vending_key = "abababababababab"', f'vending_key = "{ref}"'))
    assert f'vending_key = "{ref}"' in text
    path = tmp_path / "bench.toml"
    path.write_text(text)
    return path


def test_the_emulated_meter_refuses_a_fifo_key_too(fifo, tmp_path):
    with pytest.raises(ValueError, match=f"key file {fifo} is not a regular file"):
        MeterSetup.from_bench_file(_bench_with_key(tmp_path, f"file:{fifo}"))
    with pytest.raises(ValueError, match="key file /dev/zero is not a regular file"):
        MeterSetup.from_bench_file(_bench_with_key(tmp_path, "file:/dev/zero"))


def test_a_command_on_a_bench_with_a_fifo_key_names_it(fifo, tmp_path, capsys):
    bench = _bench_with_key(tmp_path, "file:vk.fifo")  # relative to the bench file
    assert main(["meter", "readout", "--bench", str(bench)]) == 2
    err = capsys.readouterr().err
    assert err == (f"rig meter: vending key (meter.keys.vending_key): key file {fifo} is not "
                   "a regular file (a FIFO)\n")
    assert "did not start" not in err
    assert main(["display", "read", "--bench", str(bench)]) == 2
    assert capsys.readouterr().err == (f"rig display: vending key (meter.keys.vending_key): "
                                       f"key file {fifo} is not a regular file (a FIFO)\n")


def test_rig_run_on_a_bench_with_a_fifo_key_is_bad_input_before_anything_starts(
        fifo, tmp_path, capsys):
    bench = _bench_with_key(tmp_path, "file:vk.fifo")
    reports = tmp_path / "reports"
    assert main(["run", "--bench", str(bench), "--reports", str(reports)]) == 2
    err = capsys.readouterr().err
    assert err == (f"rig run: vending key (meter.keys.vending_key): key file {fifo} is not "
                   "a regular file (a FIFO)\n")
    assert not reports.exists()  # no run folder for a run that never started


# --- the optical readout ---------------------------------------------------------------------


def test_a_readout_trickling_for_ever_ends_at_its_sized_deadline():
    def behave(dev):
        dev.sign_on("0")  # the identification offers 9600 baud ('5')
        dev.write(b"\x02C.1.0(47123456783)\r\n")
        dev.stream(b"1", 0.05, limit_s=8)  # a byte every 50 ms: never silent, never ends

    with HostilePty(behave) as dev, \
            OpticalPort(dev.path, timeout=0.5, retries=0, max_readout=1024) as port, \
            pytest.raises(DeadlineError) as err:
        port.readout()
    deadline = 0.5 + READOUT_SLACK * wire_time(1024, 9600)
    assert port.readout_deadline() == deadline
    assert err.value.step == "readout"
    assert err.value.received.startswith(b"\x02C.1.0(47123456783)\r\n1")
    assert f"readout: no ETX+BCC within {deadline:.1f} s (the wire time of 1024 bytes at " \
           "9600 baud, the most a readout may hold) (received " in str(err.value)


def test_the_readout_deadline_follows_the_baud_rate():
    with HostilePty(lambda dev: None) as dev, OpticalPort(dev.path, timeout=2.0) as port:
        assert port.readout_deadline() == pytest.approx(2.0 + READOUT_SLACK * 16384 * 10 / 300)
        port._set_baud("test", 19200)
        assert port.readout_deadline() == pytest.approx(2.0 + READOUT_SLACK * 16384 * 10 /
                                                        19200)
        port.readout_timeout = 7.0
        assert port.readout_deadline() == 7.0
