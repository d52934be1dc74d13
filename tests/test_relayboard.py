"""The ProXR relay board as the keypad injector: its bytes on a pty, and the emulated board
pressing the emulated meter's keys."""

from __future__ import annotations

import pytest

from drivers.keypad import KeypadError
from drivers.relayboard import DEFAULT_MAP, ProXRRelayBoard, RelayBoardError, channel_bytes
from tests.scripted_peer import ScriptedSerialPeer

ACK = b"\x55"


def ScriptedBoard(script: list[tuple[bytes, bytes]]) -> ScriptedSerialPeer:
    """The board end of a pty: reads exactly each expected command, answers its reply."""
    return ScriptedSerialPeer(script, strict_end=False)


def test_channel_bytes_follow_the_proxr_banks():
    # channel 1 = relay 0 of bank 1; channel 9 = relay 0 of bank 2; 16 = relay 7 of bank 2
    assert channel_bytes(1, True) == bytes([254, 108, 1])
    assert channel_bytes(1, False) == bytes([254, 100, 1])
    assert channel_bytes(9, True) == bytes([254, 108, 2])
    assert channel_bytes(16, False) == bytes([254, 107, 2])
    with pytest.raises(RelayBoardError, match=r"channel 0 is outside 1\.\.256"):
        channel_bytes(0, True)


def test_enter_closes_the_sync_relay_with_the_enter_relay():
    on = lambda ch: (channel_bytes(ch, True), ACK)  # noqa: E731
    off = lambda ch: (channel_bytes(ch, False), ACK)  # noqa: E731
    board = ScriptedBoard([
        (bytes([254, 33]), ACK), (bytes([254, 129, 0]), ACK),      # identify: test, all off
        on(5), off(5),                                              # key 5 on channel 5
        on(13), on(12), off(12), off(13),                           # ENT (12) with sync (13)
        (bytes([254, 129, 0]), ACK),                                # close: all off
    ])
    with ProXRRelayBoard(board.path, speed=1000.0) as keypad:
        assert keypad.identify().startswith("NCD,PROXR-RELAY-BOARD,")
        first, last = keypad.type_keys("5#", 1, 1)
        assert first <= last
        assert keypad.last() == "5#"
    board.finish()


def test_a_silent_board_is_named_with_the_bytes_sent():
    board = ScriptedBoard([(bytes([254, 33]), b"")])
    with ProXRRelayBoard(board.path, timeout=0.3) as keypad, \
            pytest.raises(KeypadError, match=r"did not answer the 2-way communication test "
                                             r"\(sent fe 21, received nothing\)"):
        keypad.identify()
    board.finish()


def test_configuration_mode_is_refused():
    board = ScriptedBoard([(bytes([254, 33]), b"\x56"), (bytes([254, 129, 0]), ACK)])
    with ProXRRelayBoard(board.path) as keypad, \
            pytest.raises(RelayBoardError, match="configuration mode"):
        keypad.identify()
    board.finish()


def test_a_bad_token_presses_nothing():
    board = ScriptedBoard([(bytes([254, 129, 0]), ACK)])  # only the all-off at close
    with ProXRRelayBoard(board.path) as keypad:
        with pytest.raises(KeypadError, match="19 digits"):
            keypad.type_token("1234567890123456789")
        with pytest.raises(KeypadError, match="other than digits"):
            keypad.type_token("1234567890123456789x")
        assert keypad.last() == ""
    board.finish()


def test_a_map_without_every_key_is_refused():
    partial = {k: v for k, v in DEFAULT_MAP.items() if k != "BS"}
    with pytest.raises(RelayBoardError, match="keys BS have no relay channel"):
        ProXRRelayBoard("loop://", key_map=partial)


# --- against the emulated board and meter ---------------------------------------------------


@pytest.fixture
def emulated_board():
    from emulator.clock import Clock
    from emulator.model import BenchModel
    from emulator.relayboard import ProXRBoardServer
    from emulator.setup import MeterSetup
    from meterprofile import load_profile

    setup = MeterSetup.default()
    model = BenchModel(setup, load_profile(), Clock(200.0))
    model.set_source(voltage=230.0, frequency=50.0, output=True)
    server = ProXRBoardServer(model)
    server.start()
    yield model, server, setup
    server.stop()
    model.close()


def test_token_typed_through_the_emulated_board_is_accepted(emulated_board):
    import sts

    model, server, setup = emulated_board
    vendor = sts.Vendor(setup.decoder_key, ea=setup.ea, base_date=setup.base_date, kt=setup.kt)
    token = vendor.credit(0, "2.5")
    with ProXRRelayBoard(server.path, speed=200.0) as keypad:
        keypad.identify()
        keypad.type_token(token.digits, 65, 500)
    assert model.read_register("C.52.0")[0] == "ACCEPT"
    assert model.read_register("C.52.1")[0] == token.digits
    assert server.closed == set()  # every relay open again


def test_emulated_board_drops_noise_and_unknown_commands(emulated_board):
    import serial

    _, server, _ = emulated_board
    with serial.Serial(server.path, 115200, timeout=0.5) as raw:
        raw.write(b"\x01\x02hello" + bytes([254, 7]) + bytes([254, 33]))
        assert raw.read(8) == ACK
        raw.write(bytes([254, 108, 40]))  # bank 40 does not exist: acknowledged, no relay
        assert raw.read(1) == ACK
    assert server.closed == set()


def test_emulate_lists_the_keypad_kinds_and_refuses_an_unknown_one():
    import subprocess
    import sys

    listed = subprocess.run([sys.executable, "-m", "emulator", "--list-keypads"],
                            capture_output=True, text=True, timeout=60)
    assert (listed.returncode, listed.stdout) == (0, "injector\nproxr\n")
    bad = subprocess.run([sys.executable, "-m", "emulator", "--keypad", "relay16"],
                         capture_output=True, text=True, timeout=60, stdin=subprocess.DEVNULL)
    assert bad.returncode == 2 and bad.stdout == ""
    assert bad.stderr.strip() == ("rig emulate: unknown keypad kind 'relay16' (known: "
                                  "injector, proxr; see --list-keypads)")


def test_keypad_kind_override_for_a_run():
    from rig.bench.config import load_bench
    from rig.bench.devices import RELAY_BOARD_MAX_SPEED, default_speed, with_keypad_kind

    config = load_bench(None)  # the packaged emulated bench, 200x, the injector
    assert default_speed(config) == 200.0
    board = with_keypad_kind(config, "proxr")
    assert board.keypad.kind == "proxr" and default_speed(board) == RELAY_BOARD_MAX_SPEED
    assert with_keypad_kind(board, "injector").keypad.kind == "injector"
    with pytest.raises(ValueError, match="'relay16' is not a keypad kind"):
        with_keypad_kind(config, "relay16")


def test_the_emulated_bench_runs_a_relay_board_in_the_injectors_place():
    """open_bench on a proxr bench: the emulator serves the board, the rig opens the ProXR
    driver on its pty, and a token typed through it is judged by the meter; the board's
    host clock agrees with the meter's clock."""
    from rig.bench.config import load_bench
    from rig.bench.devices import open_bench, with_keypad_kind
    from rig.meter.vendor import BenchVendor

    config = with_keypad_kind(load_bench(None), "proxr")
    with open_bench(config) as bench:
        assert bench.speed == 20.0
        keypad = bench.keypad
        assert isinstance(keypad, ProXRRelayBoard)
        assert "timing from the host clock x20" in keypad.idn
        assert "sync relay channel 13" in keypad.idn
        source = bench.instrument("source")
        source.voltage, source.frequency, source.output = 230.0, 50.0, True
        vendor = BenchVendor.for_bench(config)
        _, t_enter = keypad.type_token(vendor.credit("1.5").digits)
        bench.optical.identify()
        assert bench.optical.read("C.52.0").value == "ACCEPT"
        judged = float(bench.optical.read("C.52.3").value)
        # the meter acts on ENTER's release, 65 ms of bench time after the press began
        assert t_enter < judged < t_enter + 1.0
