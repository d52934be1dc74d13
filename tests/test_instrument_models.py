"""The instrument model framework and the AC source/load models, over real sockets.

Each model's driver talks to its emulated model (pyvisa-py TCPIP SOCKET on 127.0.0.1): the
bring-up, a set and a measure, and the refusals its own command set makes (the error queue
read after every configuration command, the refused command named). The registry-driven
test opens the emulated bench with each registered model in its role, as a bench file
selects it, so a new model is covered without a line here.
"""

from __future__ import annotations

import contextlib
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from drivers.instruments import (
    MODELS,
    CommandRefused,
    Specification,
    UnknownModel,
    all_models,
    model_class,
)
from drivers.instruments.dmm_keithley import KeithleyDmm6500
from drivers.instruments.load import AcLoad, Chroma63800, ItechIT8600
from drivers.instruments.source import AcSource, Chroma61500, KeysightAC6800B
from drivers.instruments.switch import KeysightDaq970a, Switch
from emulator.emulated_bench import EmulatedBench
from emulator.scpi.instruments import AcLoadDevice, AcSourceDevice
from emulator.scpi.load_models import Chroma63800Device, ItechIT8600Device
from emulator.scpi.registry import devices
from emulator.scpi.server import ScpiDevice, ScpiServer, definite_block, nr2, nr3
from emulator.scpi.source_models import Chroma61500Device, KeysightAC6800BDevice
from emulator.scpi.switch_models import EARTH_LEAK_OHMS, KeysightDaq970aDevice, SwitchDevice
from tests.emulator_support import Bench, ServedInstruments

ROOT = Path(__file__).resolve().parents[1]
EMULATED = ROOT / "rig" / "benches" / "emulated.toml"


@pytest.fixture
def served():
    """serve(device_class, driver_class) -> (driver, device) on one bench model whose relay
    is closed (credit entered), so the load terminals carry the source's voltage."""
    bench = Bench()
    assert bench.enter(bench.vendor.credit(0, "5"))[0] == "ACCEPT"
    bench.advance(1.0)
    serve = ServedInstruments(bench)
    yield serve
    serve.close()


def _raw(server: ScpiServer, line: str, *, answer: bool = True) -> str | None:
    """One line over a plain socket; its answer, or None when none comes within 0.3 s."""
    with socket.create_connection((server.host, server.port), timeout=2) as sock:
        sock.sendall(line.encode() + b"\n")
        if not answer:
            sock.settimeout(0.3)
        data = b""
        try:
            while not data.endswith(b"\n"):
                chunk = sock.recv(4096)
                if not chunk:
                    break
                data += chunk
        except TimeoutError:
            return None
        return data.decode().strip() if data else None


# --- the registries ---------------------------------------------------------------------------


def test_every_driver_model_has_its_emulated_model_and_back():
    served_models = devices()
    for cls in all_models():
        assert cls.MODEL in served_models.get(cls.ROLE, {}), (cls.ROLE, cls.MODEL)
        device = served_models[cls.ROLE][cls.MODEL]
        designation = getattr(device, "DESIGNATION", None)
        if designation is not None:
            assert designation == cls.DESIGNATION, cls.MODEL
    for role, names in served_models.items():
        for name in names:
            assert name in MODELS.get(role, {}), (role, name)


def test_model_lookup_names_the_known_models():
    assert model_class("source", "chroma-61500") is Chroma61500
    with pytest.raises(UnknownModel, match=r"unknown load model 'hp-6812'.*chroma-63800"):
        model_class("load", "hp-6812")
    with pytest.raises(UnknownModel, match="unknown instrument role 'kettle'"):
        model_class("kettle", "generic")


def test_a_model_must_declare_its_designation_and_cited_accuracy():
    with pytest.raises(TypeError, match="declares MODEL but not DESIGNATION"):
        type("Nameless", (AcSource,), {"MODEL": "nameless", "ACCURACY": {}})
    with pytest.raises(TypeError, match="must be a Specification citing its source"):
        type("Uncited", (AcSource,), {"MODEL": "uncited", "DESIGNATION": "x",
                                      "ACCURACY": {"power": Specification(1, 1, (1.0,))}})
    assert "nameless" not in MODELS["source"] and "uncited" not in MODELS["source"]


def test_specification_round_trips_through_the_record():
    spec = KeysightAC6800B.ACCURACY["ac_voltage"]
    assert Specification.from_record(spec.to_record()) == spec
    noted = KeithleyDmm6500.ACCURACY["ac_current"]
    assert noted.note.startswith("verified")
    assert Specification.from_record(noted.to_record()) == noted
    assert Specification.from_record({k: v for k, v in noted.to_record().items()
                                      if k != "note"}).note == ""  # an older record
    with pytest.raises(ValueError, match="missing field 'pct_range'"):
        Specification.from_record({"pct_reading": 1, "ranges": [1]})


def test_list_models_names_two_makers_per_role_of_source_and_load():
    out = subprocess.run([sys.executable, "-m", "rig", "emulate", "--list-models"],
                         capture_output=True, text=True, timeout=120, cwd=ROOT)
    assert out.returncode == 0, out.stderr
    rows = [line.split(None, 2) for line in out.stdout.splitlines()]
    assert ["source", "chroma-61500",
            "Chroma 61501/61502/61503/61504/61505 (61500 series)"] in rows
    assert ["load", "itech-it8600", "ITECH IT8615/IT8616/IT8617 (IT8600 series)"] in rows
    for role in ("source", "load"):
        assert len([r for r in rows if r[0] == role and r[1] != "generic"]) >= 2


# --- every model: its bench-file selection, bring-up, a set and a measure --------------------

def _bench_file(tmp_path: Path, role: str, name: str) -> Path:
    text = EMULATED.read_text()
    table = f"[instruments.{role}]\n"
    if table in text:
        start = text.index(table) + len(table)
        end = text.index("\n", start)
        text = text[:start] + f'model = "{name}"' + text[end:]
    else:
        text += f'\n{table}model = "{name}"\n'
    path = tmp_path / f"{role}-{name}.toml"
    path.write_text(text)
    return path


@contextlib.contextmanager
def _emulated(bench_file: Path) -> Iterator[EmulatedBench]:
    bench = EmulatedBench(bench_file=str(bench_file), speed=200)
    bench.start()
    try:
        yield bench
    finally:
        bench.stop()


def _exercise_source(source) -> None:
    source.voltage = 230
    source.output = True
    assert source.output is True
    assert source.measure_voltage() == pytest.approx(230.0, abs=0.05)


def _exercise_load(load) -> None:
    load.draw_power(100.0)
    assert load.on is True
    assert load.measure_power() >= 0.0
    load.on = False


def _exercise_switch(switch) -> None:
    switch.set_named("earth_leak", True)
    assert switch.is_closed(switch.channel("earth_leak")) is True
    switch.set_named("earth_leak", False)


#: role -> one set and one measure (roles not listed: bring-up and the error queue only)
EXERCISES = {"source": _exercise_source, "load": _exercise_load, "switch": _exercise_switch}


@pytest.mark.parametrize(("role", "name"), [(c.ROLE, c.MODEL) for c in all_models()])
def test_each_model_in_its_role_on_the_emulated_bench(tmp_path, role, name):
    with _emulated(_bench_file(tmp_path, role, name)) as bench:
        assert bench.endpoints()["instrument_models"][role] == name
        with model_class(role, name)(bench.endpoints()["instruments"][role]) as inst:
            assert inst.identity.manufacturer and inst.identity.model
            EXERCISES.get(role, lambda _inst: None)(inst)
            assert inst.errors() == []
        assert bench.undefined_commands()[role] == {}  # not one command the model lacks


def test_an_unknown_model_in_the_bench_file_stops_the_emulator(tmp_path):
    with pytest.raises(ValueError, match=r"no source model 'hp-6812' \(known: generic"):
        EmulatedBench(bench_file=str(_bench_file(tmp_path, "source", "hp-6812")))


# --- the source and load models against their emulated models --------------------------------

@pytest.mark.parametrize(("device", "driver"), [(AcSourceDevice, AcSource),
                                                (Chroma61500Device, Chroma61500),
                                                (KeysightAC6800BDevice, KeysightAC6800B)])
def test_source_feeds_the_meter_and_measures_its_current(served, device, driver):
    source, _dev = served(device, driver)
    source.voltage = 220
    source.output = True
    served.bench.model.set_load(mode="CURR", current=4.0, on=True)
    meas = served.bench.model.measure()
    assert source.measure_voltage() == pytest.approx(220.0, abs=0.01)
    assert source.measure_current() == pytest.approx(meas.source_i, abs=0.001)
    assert source.measure_power() == pytest.approx(meas.source_p, abs=0.1)
    source.frequency = 50
    assert source.frequency == pytest.approx(50.0)
    assert source.errors() == []


def test_chroma_61500_identifies_with_five_fields_and_takes_the_300_v_range(served):
    source, dev = served(Chroma61500Device, Chroma61500)
    assert source.idn == "Chroma ATE 61500,615020001234,1.00,1.01,1.02"
    assert (source.identity.manufacturer, source.identity.model,
            source.identity.serial) == ("Chroma ATE", "61500", "615020001234")
    assert dev.range == 300.0  # bring-up: VOLT:RANG HIGH
    assert source.query(":SOUR:VOLT:RANG?") == "HIGH"


@pytest.mark.parametrize(("device", "driver", "command", "entry"), [
    (AcSourceDevice, AcSource, "SOUR:VOLT 400", "-222,\"Data out of range: voltage 400 "),
    (Chroma61500Device, Chroma61500, ":SOUR:VOLT:AC 350", '-222,"Data out of range"'),
    (KeysightAC6800BDevice, KeysightAC6800B, "VOLT 350", '-222,"Data out of range"'),
    (Chroma61500Device, Chroma61500, ":SOUR:VOLT:RANG LOW", '-221,"Settings conflict"'),
    (KeysightAC6800BDevice, KeysightAC6800B, "VOLT:RANG 155", '-221,"Settings conflict"'),
    (AcLoadDevice, AcLoad, "CURR 70", "-222,\"Data out of range: current 70 "),
    (Chroma63800Device, Chroma63800, "CURR 40", '-222,"Data out of range"'),
    (Chroma63800Device, Chroma63800, "MODE ACF", '-224,"Illegal parameter value"'),
    (ItechIT8600Device, ItechIT8600, "CURR 25", '-222,"Data out of range"'),
    (SwitchDevice, Switch, "ROUT:CLOS (@301)", "-224,\"Illegal parameter value: channel"),
    (KeysightDaq970aDevice, KeysightDaq970a, "ROUT:CLOS (@101)",
     '-224,"Illegal parameter value"'),
])
def test_a_refused_command_is_named_with_the_models_error(served, device, driver, command,
                                                         entry):
    inst, _dev = served(device, driver)
    with pytest.raises(CommandRefused) as refused:
        inst.configure(command)
    assert refused.value.command == command
    assert f"refused {command!r}: {entry}" in str(refused.value)
    assert inst.errors() == []  # the queue was read to its end


def test_the_chroma_load_driver_allows_a_63804_current_the_63803_refuses(served):
    load, _dev = served(Chroma63800Device, Chroma63800)
    assert load.query("CURR:PEAK:MAX?") == "108.00"  # bring-up: the 63803's rated peak
    with pytest.raises(CommandRefused, match=r"refused 'CURR 40.000': -222"):
        load.current = 40  # inside the series' 45 A, above this 63803's 36 A
    assert load.on is False  # the refusal left the load safe


@pytest.mark.parametrize(("device", "driver"), [(AcLoadDevice, AcLoad),
                                                (Chroma63800Device, Chroma63800),
                                                (ItechIT8600Device, ItechIT8600)])
def test_load_draws_current_and_power_through_the_closed_relay(served, device, driver):
    load, _dev = served(device, driver)
    load.draw_current(3.0)
    assert load.mode == "CURR" and load.on is True
    assert load.measure_current() == pytest.approx(3.0, abs=0.001)
    load.draw_power(690.0)
    assert load.mode == "POW"
    assert load.measure_power() == pytest.approx(690.0, abs=0.5)
    load.on = False
    assert load.measure_current() == 0.0


def test_the_earth_leak_channel_leaks_through_the_known_resistor(served):
    switch, _dev = served(KeysightDaq970aDevice, KeysightDaq970a)
    model = served.bench.model
    model.set_source(output=True, voltage=230.0)
    switch.set_named("earth_leak", True)
    assert model.load().leak == pytest.approx(230.0 / EARTH_LEAK_OHMS)
    assert switch.query("ROUT:CLOS? (@301,302)") == "1,0"
    switch.set_named("earth_leak", False)
    assert model.load().leak == 0.0


# --- the generic-only commands on real models ---------------------------------------------------

#: commands of the generic set (and the removed LEAK extension) no real model of the role has
GENERIC_ONLY = {
    Chroma61500Device: ["SOUR:VOLT 230", "MEAS:VOLT?", "MEAS:POW?", "OUTP:FOO ON"],
    KeysightAC6800BDevice: ["MEAS:VOLT?", "MEAS:POW?", "SOUR:VOLT:AC 230"],
    Chroma63800Device: ["LEAK 1", "LEAK?", "MEAS:VOLT:AC?"],
    ItechIT8600Device: ["LEAK 1", "MODE CURR", "LOAD ON", "LOAD?"],
    AcLoadDevice: ["LEAK 1", "LEAK?"],
    KeysightDaq970aDevice: ["LEAK 1"],
}


@pytest.mark.parametrize("device_cls", list(GENERIC_ONLY))
def test_generic_only_commands_get_undefined_header_and_no_answer(device_cls):
    device = device_cls(Bench().model)
    server = ScpiServer(device)
    server.start()
    try:
        for command in GENERIC_ONLY[device_cls]:
            assert _raw(server, command, answer=False) is None, command
            entry = _raw(server, "SYST:ERR?")
            assert entry in ('-113,"Undefined header"', '-113,"Undefined header"'), command
            assert _raw(server, "SYST:ERR?") == device.NO_ERROR
        headers = [c.split(" ")[0] for c in GENERIC_ONLY[device_cls]]
        assert sum(device.undefined.values()) == len(headers)
        assert set(device.undefined) == set(headers)
    finally:
        server.stop()


def test_keysight_models_number_their_errors_with_a_sign():
    device = KeysightAC6800BDevice(Bench().model)
    assert device.handle("FOO") is None
    assert device.handle("SYST:ERR?") == '-113,"Undefined header"'
    assert device.handle("VOLT 400;SYST:ERR?;SYST:ERR?") == \
        '-222,"Data out of range";+0,"No error"'


# --- the SCPI framework ------------------------------------------------------------------------

class _Tree(ScpiDevice):
    def __init__(self) -> None:
        super().__init__()
        self.level = 0.0
        self.command("[SOURce:]VOLTage[:LEVel]", False,
                     lambda a: setattr(self, "level", float(a[0])))
        self.command("[SOURce:]VOLTage[:LEVel]", True, lambda a: nr2(self.level, 1))


def test_optional_nodes_long_and_short_forms_in_any_case():
    dev = _Tree()
    for form in ("SOUR:VOLT 1", "source:voltage:level 2", "VOLT:LEV 3", ":volt 4"):
        dev.handle(form)
    assert dev.handle("SOURce:VOLTage:LEVel?") == "4.0"
    assert dev.handle("VOLT:LEVEL:IMM 5") is None and dev.handle("SOURC:VOLT 6") is None
    assert dev.handle("SYST:ERR?;SYST:ERR?;:SYSTem:ERRor:NEXT?") == \
        '-113,"Undefined header";-113,"Undefined header";0,"No error"'
    assert dict(dev.undefined) == {"VOLT:LEVEL:IMM": 1, "SOURC:VOLT": 1}


def test_status_registers_follow_ieee_488_2():
    dev = _Tree()
    assert dev.handle("*ESE 36;*SRE 32;*ESE?;*SRE?") == "36;32"
    dev.handle("BOGUS")  # command error: ESR bit 5
    assert dev.handle("*STB?") == str(4 | 32 | 64)  # error queue, ESB, MSS
    assert dev.handle("*ESR?;*ESR?") == "32;0"  # read clears it
    dev.handle("*OPC;*WAI")
    assert dev.handle("*ESR?;*OPC?") == "1;1"
    dev.handle("*CLS")
    assert dev.handle("*STB?;SYST:ERR?") == '0;0,"No error"'


def test_number_forms_and_definite_length_blocks():
    assert nr3(230.0) == "+2.30000000E+02" and nr3(-0.5, 5) == "-5.00000E-01"
    assert nr2(229.996, 2) == "230.00"
    assert definite_block("1.0,2.0") == "#171.0,2.0"
    assert definite_block("x" * 1234) == "#41234" + "x" * 1234


def test_connections_are_capped_and_a_polite_client_still_gets_its_answer():
    server = ScpiServer(AcSourceDevice(Bench().model), max_connections=8)
    server.start()
    baseline = threading.active_count()
    socks = []
    try:
        for _ in range(60):  # silent sockets: each past the cap takes an older silent one's place
            socks.append(socket.create_connection((server.host, server.port), timeout=2))
        time.sleep(0.5)
        assert server.connections <= 8
        assert threading.active_count() <= baseline + 8
        assert _raw(server, "*IDN?") == "STS-RIG,EMU-ACSOURCE,EMU0001,1.0"
        # eight clients that have spoken keep their places; a ninth is closed at once
        for s in socks:
            s.close()
        socks = [socket.create_connection((server.host, server.port), timeout=2)
                 for _ in range(8)]
        for s in socks:
            s.sendall(b"*OPC?\n")
            assert s.recv(16) == b"1\n"
        refused_before = server.refused
        with socket.create_connection((server.host, server.port), timeout=2) as extra:
            assert extra.recv(16) == b""
        assert server.refused == refused_before + 1
    finally:
        for s in socks:
            s.close()
        server.stop()
