"""Power meters that integrate energy: the energy reference where a lab has one.

A power meter sits at the load terminals and integrates the active power itself (watt-hours
on its own clock), so the energy a plan compares with the meter's register is measured by an
instrument from start to stop, not summed by the host from sampled readings. `power_meter` is
an optional role: a bench without one measures energy from the load's power readings.
"""

from __future__ import annotations

from typing import ClassVar

from drivers.instruments.accuracy import Accuracy, Specification
from drivers.instruments.base import InstrumentError, ScpiInstrument

__all__ = ["YokogawaWt310e"]

#: the integrator's states as :INTEGrate:STATe? answers them
STATES = ("RESET", "READY", "START", "STOP", "ERROR", "TIMEUP")


class YokogawaWt310e(ScpiInstrument):
    """Yokogawa WT310E (WT300E series; WT332E/WT333E answer the same commands for element 1),
    from the WT310E/WT310EH/WT332E/WT333E Communication Interface User's Manual (IM
    WT310E-17EN): errors from :STATus:ERRor? (positive codes, `0,"No error"` when empty),
    response headers off with :COMMunicate:HEADer OFF, integration with :INTEGrate:MODE
    NORMal and a zero timer (manual integration: START to STOP), :INTEGrate:STARt / STOP /
    RESet and :INTEGrate:STATe?, and readings by :NUMeric:NORMal:ITEM<x> <function>,<element>
    and :NUMeric:NORMal:VALue? (NR3, comma-separated). WH is the watt-hour item."""

    ROLE = "power_meter"
    MODEL = "yokogawa-wt310e"
    DESIGNATION = "Yokogawa WT310E digital power meter (WT300E series)"
    VOLTAGE_RANGE_V = 300.0
    CURRENT_RANGE_A = 20.0
    POWER_RANGE_W = VOLTAGE_RANGE_V * CURRENT_RANGE_A  # the active power range
    # Yokogawa WT310E/WT310EH/WT332E/WT333E Getting Started Guide (IM WT310E-02EN) 7.3.2
    # "Active Power Accuracy", 12 months, 45 Hz <= f <= 66 Hz, power factor 1:
    # ±(0.1 % of reading + 0.05 % of range). Integration (7.6): the power accuracy
    # ± 0.02 % of reading (timer); energy's "range" is the power range × the time.
    ACCURACY: ClassVar[Accuracy] = {
        "power": Specification(0.1, 0.05, (POWER_RANGE_W,),
                               source="Yokogawa IM WT310E-02EN 7.3.2 active power "
                                      "accuracy, 45-66 Hz, 12 months",
                               fixed_range=POWER_RANGE_W),
        "energy": Specification(0.12, 0.05, (POWER_RANGE_W,),
                                source="Yokogawa IM WT310E-02EN 7.3.2 active power "
                                       "accuracy + integration timer 0.02 % of reading; "
                                       "range term: power range x integration time",
                                fixed_range=POWER_RANGE_W),
    }
    error_query = ":STATus:ERRor?"

    def setup(self) -> None:
        """Headers off, fixed ranges, items 1..2 = P and WH of element 1, manual integration."""
        self.configure(":COMMunicate:HEADer OFF",
                       f":INPut:VOLTage:RANGe {self.VOLTAGE_RANGE_V:g}V",
                       f":INPut:CURRent:RANGe {self.CURRENT_RANGE_A:g}A",
                       ":NUMeric:FORMat ASCii", ":NUMeric:NORMal:NUMber 2",
                       ":NUMeric:NORMal:ITEM1 P,1", ":NUMeric:NORMal:ITEM2 WH,1",
                       ":INTEGrate:MODE NORMal", ":INTEGrate:TIMer 0,0,0")

    def integration_state(self) -> str:
        state = self.query(":INTEGrate:STATe?").strip().upper()
        if state not in STATES:
            raise InstrumentError(f"{self._where()}: :INTEGrate:STATe? answered {state!r}, "
                                  f"not one of {', '.join(STATES)}")
        return state

    def start_integration(self) -> None:
        """Reset the integrator to zero and start it."""
        self.setup()
        state = self.integration_state()
        if state == "START":
            self.configure(":INTEGrate:STOP")
        if state != "RESET":
            self.configure(":INTEGrate:RESet")
        self.configure(":INTEGrate:STARt")

    def stop_integration(self) -> None:
        self.configure(":INTEGrate:STOP")

    def readings(self) -> tuple[float, float]:
        """(active power W, integrated energy Wh) of element 1."""
        power, energy = self.query_numbers(":NUMeric:NORMal:VALue?", 2)
        return power, energy

    def measure_power(self) -> float:
        return self.readings()[0]

    def energy_wh(self) -> float:
        """The integrated active energy, watt-hours."""
        return self.readings()[1]

    def energy_uncertainty_wh(self, energy_wh: float, elapsed_s: float) -> float:
        """U of an integrated energy from the ACCURACY table: % of reading, plus % of the
        power range over the integration time."""
        spec = self.ACCURACY["energy"]
        return (spec.pct_reading / 100 * abs(energy_wh)
                + spec.pct_range / 100 * self.POWER_RANGE_W * elapsed_s / 3600.0)

    def safe_state(self) -> None:
        """An integrator left running is harmless, but stop it so a later reading is the
        one this run took."""
        try:
            if self.integration_state() == "START":
                self.write(":INTEGrate:STOP")
        except InstrumentError:
            pass
