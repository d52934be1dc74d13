"""The DMM, scope and power-meter drivers of real models against their emulated models, over
a real socket on 127.0.0.1 (pyvisa-py TCPIP SOCKET): readings, the relay's timing, and the
refusals each model's own command set makes (error queue read after every configuration
command, the refused command named)."""

from __future__ import annotations

import pytest

from drivers.instruments import CommandRefused, Dmm, KeysightInfiniiVision, Scope
from drivers.instruments.dmm import Keysight34461A
from drivers.instruments.dmm_keithley import KeithleyDmm6500
from drivers.instruments.errors import AnswerError, InstrumentError
from drivers.instruments.power_meter import YokogawaWt310e
from drivers.instruments.scope import Channel
from drivers.instruments.scope_rigol import RigolMso5000
from emulator.scpi.dmm_models import KeithleyDmm6500Device, Keysight34461ADevice
from emulator.scpi.instruments import DmmDevice, ScopeDevice
from emulator.scpi.power_meter_models import YokogawaWt310eDevice
from emulator.scpi.scope_keysight import InfiniiVisionDevice
from emulator.scpi.scope_rigol import RigolMso5000Device
from tests.emulator_support import Bench, ServedInstruments


@pytest.fixture
def served():
    """serve(device_class, driver_class) -> (driver, device) on one shared bench model."""
    bench = Bench()
    assert bench.enter(bench.vendor.credit(0, "5"))[0] == "ACCEPT"
    bench.advance(1.0)
    assert bench.reg("C.51.0") == "1"  # relay closed
    serve = ServedInstruments(bench)
    yield serve
    serve.close()


# --- DMMs -------------------------------------------------------------------------------------

@pytest.mark.parametrize(("device", "driver"), [(Keysight34461ADevice, Keysight34461A),
                                                (KeithleyDmm6500Device, KeithleyDmm6500)])
def test_dmm_reads_the_load_terminals(served, device, driver):
    dmm, _dev = served(device, driver)
    served.bench.model.set_load(mode="CURR", current=5.0, on=True)
    meas = served.bench.model.measure()
    assert meas.load_i == pytest.approx(5.0)
    assert dmm.measure_voltage_ac() == pytest.approx(meas.load_v, rel=1e-6)
    assert dmm.measure_current_ac() == pytest.approx(5.0, rel=1e-6)
    assert dmm.errors() == []


def test_34461a_has_no_1000_v_ac_range_and_needs_the_10_a_terminals(served):
    dmm, dev = served(Keysight34461ADevice, Keysight34461A)
    with pytest.raises(CommandRefused) as refused:
        dmm.configure("CONF:VOLT:AC 1000")
    assert refused.value.command == "CONF:VOLT:AC 1000"
    assert refused.value.entries == [(-222, "Data out of range")]
    with pytest.raises(CommandRefused, match=r"SENS:CURR:AC:RANG 10.*-222"):
        dmm.configure("SENS:CURR:AC:RANG 10")  # RANGe cannot select 10 A (TERMinals can)
    served.bench.model.set_load(mode="CURR", current=5.0, on=True)
    dmm.configure("CONF:CURR:AC 3")  # the 3 A terminals: 5 A is an overload
    with pytest.raises(AnswerError, match="overload"):
        dmm.read()
    assert dmm.query("SENS:CURR:AC:TERM?") == "+3"
    assert dmm.measure_current_ac() == pytest.approx(5.0)  # TERM 10 first, then CONF 10
    assert dmm.query("SENS:CURR:AC:TERM?") == "+10"
    assert dmm.query("SYST:ERR?") == '+0,"No error"'
    assert dev.undefined == {}


def test_dmm6500_10_a_range_only_on_the_front_terminals(served):
    dmm, dev = served(KeithleyDmm6500Device, KeithleyDmm6500)
    dev.terminals = "REAR"  # the front-panel switch
    with pytest.raises(InstrumentError, match="front terminals"):
        dmm.measure_current_ac()
    with pytest.raises(CommandRefused, match=r"CURRent:AC:RANGe 10.*-221"):
        dmm.configure(":SENSe:CURRent:AC:RANGe 10")
    with pytest.raises(CommandRefused, match=r"VOLTage:AC:RANGe 1000.*-222"):
        dmm.configure(":SENSe:VOLTage:AC:RANGe 1000")
    assert dmm.query(":SYSTem:ERRor?") == '0,"No error"'


@pytest.mark.parametrize(("device", "driver"), [(Keysight34461ADevice, Keysight34461A),
                                                (KeithleyDmm6500Device, KeithleyDmm6500)])
def test_a_real_dmm_refuses_what_only_the_generic_set_has(served, device, driver):
    dmm, dev = served(device, driver)
    with pytest.raises(CommandRefused, match=r"-113,\"Undefined header\""):
        dmm.configure("LEAK 1")
    assert dev.undefined == {"LEAK": 1}


# --- scopes ------------------------------------------------------------------------------------

def test_every_scope_times_the_relay_test_alike(served):
    """The relay test (code 01) seen by the generic scope, the InfiniiVision and the Rigol on
    one bench: the same delay from the ENTER sync edge to the load's edge and the same ENTER
    width, whichever way each model triggers."""
    bench = served.bench
    scopes = [served(ScopeDevice, Scope)[0], served(InfiniiVisionDevice,
                                                    KeysightInfiniiVision)[0],
              served(RigolMso5000Device, RigolMso5000)[0]]
    for scope in scopes:
        scope.arm_dropout(level=50.0, hold_s=0.05, scale_s=0.05)  # 250 ms before the trigger
        assert not scope.triggered()
    t_enter = bench.keys("01#")
    bench.advance(0.5)
    delays, widths = [], []
    for scope in scopes:
        assert scope.triggered()
        assert scope.triggered()  # stays seen (an InfiniiVision's :TER? clears on read)
        delays.append(scope.delay(Channel.ENTER_SYNC, Channel.LOAD_VOLTAGE))
        widths.append(scope.pulse_width(Channel.ENTER_SYNC))
    contact = bench.num("C.51.1")
    assert delays[0] == pytest.approx(delays[1], abs=1e-6)
    assert delays[0] == pytest.approx(delays[2], abs=1e-6)
    assert 0.065 < delays[0] <= contact - t_enter + 1e-6
    assert widths == pytest.approx([0.065] * 3, abs=1e-6)
    for scope in scopes:
        times, volts = scope.waveform(Channel.LOAD_VOLTAGE, points=500)
        assert len(times) == len(volts) >= 500
        assert max(abs(v) for v in volts) == pytest.approx(230 * 2 ** 0.5, abs=1.0)


@pytest.mark.parametrize(("device", "driver"), [(InfiniiVisionDevice, KeysightInfiniiVision),
                                                (RigolMso5000Device, RigolMso5000)])
def test_a_real_scope_measures_only_what_is_on_its_screen(served, device, driver):
    """ENTER pressed ~95 ms before the contact opens, and a timeout trigger fires 50 ms
    after it: a 10 ms/div screen (50 ms before the trigger) does not show the press."""
    scope, _dev = served(device, driver)
    scope.arm_dropout(level=50.0, hold_s=0.05, scale_s=0.01)
    served.bench.keys("01#")
    served.bench.advance(0.5)
    assert scope.triggered()
    with pytest.raises(AnswerError, match="overload"):
        scope.delay()
    with pytest.raises(AnswerError, match="overload"):
        scope.pulse_width()


@pytest.mark.parametrize(("device", "driver"), [(InfiniiVisionDevice, KeysightInfiniiVision),
                                                (RigolMso5000Device, RigolMso5000)])
def test_no_trigger_no_delay(served, device, driver):
    scope, _dev = served(device, driver)
    scope.arm_dropout(level=50.0, hold_s=0.05)
    served.bench.advance(1.0)  # the supply never goes: nothing triggers
    assert not scope.triggered()
    with pytest.raises(AnswerError, match="overload"):  # +9.9E+37 / 9.9E37: nothing measured
        scope.delay()
    assert scope.errors() == []  # a measurement with nothing to measure queues no error


def test_infiniivision_error_queue_format_and_generic_only_commands(served):
    scope, dev = served(InfiniiVisionDevice, KeysightInfiniiVision)
    assert scope.query(":SYSTem:ERRor?") == '+0,"No error"'
    for generic_only in (":TRIG:TIME?", ":TRIG:TYPE DROP", ":TRIG:DROP:TIME 0.05"):
        scope._res.write(generic_only)
        assert scope.query(":SYSTem:ERRor?") == '-113,"Undefined header"'
    assert sum(dev.undefined.values()) == 3
    with pytest.raises(CommandRefused, match=r":TRIGger:MODE DROP.*-224"):
        scope.configure(":TRIGger:MODE DROP")


def test_rigol_generic_only_commands_are_undefined(served):
    scope, dev = served(RigolMso5000Device, RigolMso5000)
    with pytest.raises(CommandRefused, match=r"-113"):
        scope.configure(":TER?")
    assert dev.undefined == {":TER?": 1}
    with pytest.raises(CommandRefused, match=r":TRIGger:TIMeout:TIME 20.*-222"):
        scope.configure(":TRIGger:TIMeout:TIME 20")  # 16 ns to 10 s


def test_scope_channels_are_named(served):
    scope, _dev = served(ScopeDevice, Scope)
    assert scope.input(Channel.LOAD_VOLTAGE) == "1"
    assert scope.input("enter_sync") == "2"
    assert scope.input(2) == "2"
    with pytest.raises(ValueError, match="neither a channel name"):
        scope.input("load")


# --- power meter --------------------------------------------------------------------------------

def test_wt310e_integrates_the_energy_the_load_draws(served):
    bench = served.bench
    pm, _dev = served(YokogawaWt310eDevice, YokogawaWt310e)
    pm.start_integration()
    assert pm.integration_state() == "START"
    bench.model.set_load(mode="POW", power=1000.0, on=True)
    bench.advance(360.0)  # 0.1 kWh
    bench.model.set_load(on=False)
    bench.advance(10.0)
    pm.stop_integration()
    assert pm.integration_state() == "STOP"
    assert pm.energy_wh() == pytest.approx(100.0, abs=0.01)
    assert pm.measure_power() == 0.0
    assert pm.energy_uncertainty_wh(100.0, 370.0) == pytest.approx(0.12 + 0.0005 * 6000
                                                                   * 370 / 3600)
    with pytest.raises(CommandRefused, match=r":INTEGrate:STOP.*221"):
        pm.configure(":INTEGrate:STOP")  # not running
    pm.start_integration()  # a second run starts from zero
    assert pm.energy_wh() == pytest.approx(0.0, abs=0.01)


def test_wt310e_has_no_system_error_query(served):
    pm, dev = served(YokogawaWt310eDevice, YokogawaWt310e)
    pm._res.write("SYST:ERR?")  # not this model's: undefined, and no answer
    assert pm.query(":STATus:ERRor?") == '113,"Undefined header"'
    assert pm.query(":STATus:ERRor?") == '0,"No error"'
    with pytest.raises(CommandRefused, match=r"INPut:VOLTage:RANGe 250V.*224"):
        pm.configure(":INPut:VOLTage:RANGe 250V")
    assert dev.undefined == {"SYST:ERR?": 1}


def test_generic_dmm_still_answers_its_set(served):
    dmm, _dev = served(DmmDevice, Dmm)
    assert dmm.measure_voltage_ac() == pytest.approx(230.0, abs=0.5)


GENERIC_ONLY = {
    # commands of the generic emulated set (or of its removed extensions: the dropout
    # trigger, the absolute trigger time) that the model does not have
    ScopeDevice: (":TRIG:TYPE DROP", ":TRIG:DROP:TIME 0.05", ":TRIG:TIME?"),
    Keysight34461ADevice: (":TRIG:TIME?", "LEAK 1"),
    KeithleyDmm6500Device: ("CONF:VOLT:AC", "CONF:CURR:AC", "CONF?"),
    InfiniiVisionDevice: (":TRIG:TYPE DROP", ":TRIG:DROP:TIME 0.05", ":TRIG:TIME?"),
    RigolMso5000Device: (":TRIG:SOUR CHAN1", ":TRIG:TYPE DROP", ":TRIG:SLOP POS",
                         ":TRIG:LEV 50", ":TRIG:DROP:TIME 0.05", ":TER?", ":TRIG:TIME?",
                         ":MEAS:DEL? CHAN2,CHAN1", ":MEAS:PWID? CHAN2"),
}
DRIVER_OF = {ScopeDevice: Scope, Keysight34461ADevice: Keysight34461A,
             KeithleyDmm6500Device: KeithleyDmm6500, InfiniiVisionDevice: KeysightInfiniiVision,
             RigolMso5000Device: RigolMso5000}


@pytest.mark.parametrize("device", list(GENERIC_ONLY), ids=lambda d: d.MODEL)
def test_generic_only_commands_are_undefined_headers_with_no_answer(served, device):
    driver, dev = served(device, DRIVER_OF[device])
    for command in GENERIC_ONLY[device]:
        driver._res.write(command)  # a query of a header it does not have: no answer
        code, text = driver.error_entries()[0]
        assert (code, text) == (-113, "Undefined header"), command
    assert sum(dev.undefined.values()) == len(GENERIC_ONLY[device])
    assert driver.query("*IDN?") == dev.idn  # nothing left unread in between
