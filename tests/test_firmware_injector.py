"""The injector firmware (firmware/injector/) under CPython, behind a pty.

The Pico's logic runs unchanged in `host.py` with fake pins and a virtual clock, and the
rig's own keypad driver talks to it over the pty, as a bench talks to /dev/ttyACM0. The
virtual clock advances only by the press and gap times asked, so every time answered is
known exactly (21 keys at 65/500 ms: the last press starts 20 x 0.565 s = 11.3 s after the
first). The pin log shows every contact closing and opening, in order.
"""

from __future__ import annotations

import importlib.util
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
import serial

from drivers.keypad import KeypadError, KeypadInjector

FIRMWARE = Path(__file__).resolve().parent.parent / "firmware" / "injector"
TOKEN = "12345678901234567890"


def _load(name: str):
    spec = importlib.util.spec_from_file_location(f"fw_{name}", FIRMWARE / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    sys.path.insert(0, str(FIRMWARE))
    try:
        spec.loader.exec_module(module)
    finally:
        sys.path.remove(str(FIRMWARE))
    return module


fw = _load("injector")
host = _load("host")


class Firmware:
    """host.py in a subprocess: its pty path and its pin log."""

    def __init__(self, tmp: Path) -> None:
        self.pin_log = tmp / "pins.log"
        self.proc = subprocess.Popen(
            [sys.executable, str(FIRMWARE / "host.py"), "--pin-log", str(self.pin_log)],
            stdout=subprocess.PIPE, text=True)
        self.path = self.proc.stdout.readline().strip()
        assert self.path.startswith("/dev/"), f"host.py printed {self.path!r}"

    def edges(self) -> list[tuple[int, str, int]]:
        if not self.pin_log.exists():
            return []
        rows = [line.split() for line in self.pin_log.read_text().splitlines()]
        return [(int(t), name, int(on)) for t, name, on in rows]

    def stop(self) -> None:
        self.proc.terminate()
        self.proc.wait(timeout=10)


@pytest.fixture
def firmware(tmp_path):
    fw_proc = Firmware(tmp_path)
    yield fw_proc
    fw_proc.stop()


def test_driver_exchange_gives_the_exact_times(firmware):
    with KeypadInjector(firmware.path) as keypad:
        assert keypad.identify() == "STS-RIG,KEYPAD-INJECTOR,HOST0001,pico-1.0"
        assert keypad.time() == 0.0
        # 21 keys at 65/500 ms: first at 0, last at 20 x 0.565 s
        assert keypad.type_token("1234-5678-9012-3456-7890") == (0.0, 11.3)
        assert keypad.time() == 11.365
        assert keypad.press("BS", 80) == 11.365
        assert keypad.last(3) == "0#<"
        assert keypad.last(22) == TOKEN + "#<"


def test_each_key_closes_its_own_contact_and_enter_raises_sync(firmware):
    with KeypadInjector(firmware.path) as keypad:
        assert keypad.type_keys("0<#", 65, 500) == (0.0, 1.13)
    assert firmware.edges() == [
        (0, "0", 1), (65000, "0", 0),
        (565000, "BS", 1), (630000, "BS", 0),
        (1130000, "ENT", 1), (1130000, "SYNC", 1), (1195000, "SYNC", 0), (1195000, "ENT", 0),
    ]


def test_bad_token_never_reaches_the_board(firmware):
    with KeypadInjector(firmware.path) as keypad:
        with pytest.raises(KeypadError, match="19 digits"):
            keypad.type_token("1234567890123456789")
        assert keypad.last() == ""
    assert firmware.edges() == []


def test_refusals_name_what_was_wrong_and_press_nothing(firmware):
    with KeypadInjector(firmware.path) as keypad:
        with pytest.raises(KeypadError, match="unknown command 'FOO'"):
            keypad._ask("FOO 1")
        keypad._ser.write(b"FOO\xe9\xff\n")
        assert keypad._ser.readline() == b"ERR unknown command 'FOO\\xe9\\xff'\r\n"
        with pytest.raises(KeypadError, match="bad key 'x'"):
            keypad._ask("TYPE 12x#")
        with pytest.raises(KeypadError, match=re.escape("press_ms 20000 is out of range 0..10000")):
            keypad._ask("PRESS 5 20000")
        with pytest.raises(KeypadError, match=re.escape("too many arguments for TIME? (1)")):
            keypad._ask("TIME? 5")
        assert keypad.last() == ""
    assert firmware.edges() == []


def test_raw_bytes_on_the_wire(firmware):
    """CR ignored, an empty line unanswered, noise without LF dropped with one ERR."""
    with serial.Serial(firmware.path, 115200, timeout=2) as raw:
        raw.write(b"\r\n*idn?\r\n")
        assert raw.readline() == b"OK STS-RIG,KEYPAD-INJECTOR,HOST0001,pico-1.0\r\n"
        raw.write(b"PRESS ENT 10\n")
        assert raw.readline() == b"OK 0.000000\r\n"
        raw.write(bytes(b for b in range(256) if b != 0x0A) + b"x" * 40)
        assert raw.readline() == b"ERR line too long (more than 256 bytes), discarded\r\n"
        raw.write(b"TIME?\n")
        assert raw.readline() == b"OK 0.010000\r\n"
        raw.timeout = 0.3
        assert raw.read(64) == b""


# the same lines to the firmware and to the emulated injector: the same answers (times and
# the identity aside)
SAME_ANSWERS = [b"FOO\xe9\xff", b"LAST?", b"TYPE 12<3 1 1", b"LAST? 4", b"PRESS #  2",
                b"PRESS x", b"TYPE", b"PRESS", b"TYPE 1 1 1 1", b"FOO", b"LAST? -1",
                b"LAST? zz", b"TYPE 5 abc",
                b"PRESS 5 -3", b"LAST? 0", b"\r", b"LAST? 99"]


def _exchange(path: str) -> list[bytes]:
    answers = []
    with serial.Serial(path, 115200, timeout=5) as raw:
        for line in SAME_ANSWERS:
            raw.write(line + b"\n")
            if line.strip():  # times differ (two clocks): each becomes <t>; a refusal
                answer = re.sub(rb"\d+\.\d{6}", b"<t>", raw.readline())  # is ERR on both
                answers.append(b"ERR" if answer.startswith(b"ERR ") else answer)
        raw.timeout = 0.3
        assert raw.read(64) == b""
    return answers


def test_firmware_answers_as_the_emulated_injector(firmware):
    from emulator.clock import Clock
    from emulator.keypad import KeypadInjectorServer
    from emulator.model import BenchModel
    from emulator.setup import MeterSetup
    from meterprofile import load_profile

    model = BenchModel(MeterSetup.default(), load_profile(), Clock(1000.0))
    server = KeypadInjectorServer(model)
    server.start()
    try:
        emulated = _exchange(server.path)
    finally:
        server.stop()
        model.close()
    on_firmware = _exchange(firmware.path)
    assert on_firmware == emulated
    assert on_firmware[:5] == [b"ERR", b"OK\r\n", b"OK <t> <t>\r\n", b"OK 12<3\r\n",
                               b"OK <t>\r\n"]
    assert on_firmware[-2:] == [b"OK\r\n", b"OK 12<3#\r\n"]


# --- the logic, in process ----------------------------------------------------------------


def test_clock_stays_monotonic_across_the_ticks_wrap():
    """MicroPython's ticks_us wraps at 2**30 us (17.9 min); the clock folds it."""
    ticks = [host.TICKS_PERIOD - 300]
    clock = fw.Clock(lambda: ticks[0], host.ticks_diff)
    ticks[0] = (ticks[0] + 500) % host.TICKS_PERIOD  # crosses the wrap: 200 after zero
    assert clock.now_us() == 500
    ticks[0] = (ticks[0] + host.TICKS_PERIOD // 2 - 1) % host.TICKS_PERIOD
    assert clock.now_us() == 500 + host.TICKS_PERIOD // 2 - 1
    assert clock.now() == "536.871411"


def test_seconds_are_formatted_from_integers():
    assert fw.seconds(0) == "0.000000"
    assert fw.seconds(86_400_000_001) == "86400.000001"


def test_an_output_failure_leaves_every_contact_open():
    class Sticky(host.FakeOutputs):
        def set(self, key, on):
            super().set(key, on)
            if key == "7" and on:
                raise OSError("GPIO 8 stuck")

    clock = host.VirtualClock()
    outputs = Sticky(clock)
    device = fw.Injector(outputs, clock)
    assert device.answer(b"TYPE 17#") == b"ERR internal error: GPIO 8 stuck\r\n"
    assert not any(outputs.state.values())
    assert device.answer(b"LAST?") == b"OK 1\r\n"


def test_pin_map_has_one_distinct_gpio_per_key_and_the_sync():
    board = _load("board")
    assert sorted(board.PIN_MAP) == sorted(fw.KEYS)
    gpios = [*board.PIN_MAP.values(), board.SYNC_PIN, board.LED_PIN]
    assert len(set(gpios)) == len(gpios)
    assert all(0 <= g <= 28 for g in gpios)  # the RP2040's GPIO0..GPIO28


def test_main_is_micropython_only():
    text = (FIRMWARE / "main.py").read_text()
    assert "import micropython" in text and "kbd_intr(-1)" in text
    assert os.path.exists(FIRMWARE / "board.py")
