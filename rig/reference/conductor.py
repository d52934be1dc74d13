"""Drives the meter under test and the reference model in step: every event goes to both,
every fact the profile offers is read back and judged against what a compliant meter may
show. Facts are read one at a time between two readings of the injector's clock, so each
one is judged at the bench time it was taken (at 200x one optical read is several bench
seconds)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from rig.reference.events import (
    EarthLeak,
    EnterCode,
    EnterToken,
    Event,
    PowerCycle,
    SetLoad,
    SetVoltage,
    Wait,
)
from rig.reference.expectation import Allowed, Deviation
from rig.reference.reference_meter import KeyData, ReferenceMeter

# every fact of a persistent item the reference model knows, in the order they are read
STATE_FACTS = (
    "credit", "relay_closed", "relay_reason", "key_revision", "key_type", "tariff_index",
    "supply_group", "key_expiry", "base_date", "power_limit", "unbalance_limit", "tamper",
    "tamper_events", "lockout_refusals", "overload_trips", "outages", "alarm_level",
    "low_credit_alarm", "energy_import",
)


@dataclass
class Reading:
    """One fact read from the meter, with the bench-time bracket of the read."""

    name: str
    value: Any
    t0: float
    t1: float
    how: str = ""


@dataclass
class Step:
    """One event as done: its technician's text, the entry's result, the deviations."""

    number: int
    text: str
    outcome: str | None = None
    allowed: Allowed | None = None
    deviations: list[Deviation] = field(default_factory=list)


def seen_outcomes(result: Any) -> set[str]:
    """The outcomes an entry result can stand for: the outcome a result register gave, or
    every outcome whose declared message the display showed ("GAGAL" stands for several)."""
    if result.outcome is not None:
        return {result.outcome}
    if result.code and result.accepted:  # a test token's display (a value, not a message)
        return {"ACCEPT"}
    shown = result.seen
    return {o for o, m in result.messages.items() if m == shown} or {shown}


def outcome_admitted(result: Any, allowed: Allowed) -> bool:
    """True when the entry's result is one a compliant meter may give."""
    if allowed.free:
        return True
    return bool(seen_outcomes(result) & set(allowed.values or ()))


def bench_key(vendor: Any, config: Any) -> KeyData:
    """The bench meter's key register as the bench file declares it."""
    keys = config.meter.keys
    return KeyData(bytes(vendor.decoder_key), vendor.ea, int(keys.kt), int(keys.krn),
                   str(keys.ti), str(keys.sgc), int(keys.ken), int(vendor.base_date))


class Conductor:
    """The meter under test (`dut`) and a `ReferenceMeter`, driven together."""

    def __init__(self, dut: Any, model: ReferenceMeter, *, load: Any = None,
                 source: Any = None, switch: Any = None) -> None:
        self.dut = dut
        self.model = model
        self.load = load
        self.switch = switch
        self.source = source
        self.fast: tuple[float, float] | None = None  # press and gap (ms) for entries
        self.steps: list[Step] = []
        self.last_accepted = False
        self.last_result: Any = None
        self.offered = [n for n in STATE_FACTS if dut.offers(n)]

    # --- events ----------------------------------------------------------------------------

    def do(self, event: Event) -> Step:
        """Carry out `event` on the bench and in the model; the entry's outcome judged."""
        step = Step(len(self.steps) + 1, event.step())
        dut, model = self.dut, self.model
        if isinstance(event, EnterToken):
            if (int(event.digits) >> 27) & 3 == 1:  # a test token may answer with a value
                result = dut.entry(event.digits + "#", *(self.fast or ()), code=True)
                if not result.accepted:  # a refusal counts; a test does not end the count
                    dut.entries.note(result)
            else:
                result = dut.enter(event.digits, *(self.fast or ()))
            exp = model.apply(event, result.t_enter + self.press_s,
                              seen=seen_outcomes(result))
            step.outcome, step.allowed = result.seen, exp.outcome
            if exp.outcome is not None and not outcome_admitted(result, exp.outcome):
                step.deviations.append(Deviation("outcome", result.seen, exp.outcome,
                                                 step.text))
            self.last_accepted = result.accepted
            self.last_result = result
        elif isinstance(event, EnterCode):
            self.last_result = None
            result = dut.code(event.code)
            model.apply(event, result.t_enter + self.press_s)
            step.outcome = result.seen
        elif isinstance(event, PowerCycle):
            t = dut.now()
            dut.power_cycle(off_s=event.off_s)
            model.apply(event, t)
            model.advance(max(model.t, dut.now()))
        elif isinstance(event, Wait):
            t = dut.now()
            dut.wait(event.seconds)
            model.apply(event, t)
        elif isinstance(event, SetLoad):
            t0 = dut.now()
            if event.watts <= 0:
                self.load.on = False
            else:
                self.load.draw_power(event.watts)
            model.apply(event, t0, t_late=dut.now())
        elif isinstance(event, SetVoltage):
            self.source.voltage = event.volts
            model.apply(event, dut.now())
        elif isinstance(event, EarthLeak):
            t0 = dut.now()
            try:
                self.load.draw_current(1.0)
                self._leak(True, event.amps)
                t1 = dut.now()
                dut.wait(1.0)
            finally:
                t2 = dut.now()
                self._leak(False, event.amps)
                self.load.on = False
            volts = float(self.model.items.voltage_v)
            model.apply(SetLoad(volts), t0, t_late=t1)  # 1 A while it leaked
            model.apply(event, t1)
            model.apply(SetLoad(0), t2, t_late=dut.now())
        else:
            raise TypeError(f"no bench action for {event!r}")
        self.steps.append(step)
        return step

    def _leak(self, on: bool, amps: float) -> None:
        """The earth-leak stimulus: the bench's switch channel `earth_leak`, else a load
        with a leakage control."""
        if self.switch is not None:
            self.switch.set_named("earth_leak", on)
        elif getattr(type(self.load), "leakage", None) is not None:
            self.load.leakage = amps if on else 0
        else:
            raise RuntimeError("this bench has no earth-leak stimulus (a switch with an "
                               "earth_leak channel, or a load with a leakage control)")

    @property
    def press_s(self) -> float:
        """The key press (s): the meter acts on ENTER's release."""
        return (self.fast[0] if self.fast else self.dut.press_ms) / 1000.0

    # --- facts -----------------------------------------------------------------------------

    def read(self, names: tuple[str, ...] | list[str] | None = None) -> dict[str, Reading]:
        """Every offered fact (or `names`), each with the bench time bracket of its read."""
        got = {}
        t0 = self.dut.now()
        for name in names if names is not None else self.offered:
            if not self.dut.offers(name):
                continue
            value = self.dut.fact(name)
            t1 = self.dut.now()
            got[name] = Reading(name, value, t0, t1, self.dut.via(name))
            t0 = t1
        return got

    def judge(self, readings: dict[str, Reading]) -> dict[str, tuple[Reading, Allowed]]:
        """Each reading with what a compliant meter may show at the time it was taken."""
        judged = {}
        for name, r in readings.items():
            mid, half = (r.t0 + r.t1) / 2, (r.t1 - r.t0) / 2 + self.press_s
            allowed = self.model.expected(mid, half).get(name, Allowed.anything("not modelled"))
            judged[name] = (r, allowed)
        return judged

    def check(self, names: tuple[str, ...] | list[str] | None = None) -> list[Deviation]:
        """Read and judge; the deviations (also kept on the last step)."""
        found = [Deviation(n, r.value, a, self.steps[-1].text if self.steps else "start")
                 for n, (r, a) in self.judge(self.read(names)).items()
                 if not a.admits(r.value)]
        if self.steps:
            self.steps[-1].deviations.extend(found)
        return found

    def replay(self) -> list[str]:
        """The steps so far as numbered lines a technician can repeat by hand."""
        return [f"{s.number}. {s.text}" + (f" -> meter: {s.outcome}" if s.outcome else "")
                for s in self.steps]


def start_model(dut: Any, vendor: Any, config: Any, profile: Any, *, mfr_code: int,
                edge_s: float = 1.0) -> ReferenceMeter:
    """A reference model in step with the meter now: its items from the facts the meter
    offers (counters, limits, credit), its TID store empty (the caller has just entered a
    key change set with RO set, or knows the store holds no TID it will replay)."""
    model = ReferenceMeter(profile, bench_key(vendor, config), mfr_code=mfr_code,
                           t=dut.now(), edge_s=edge_s)
    facts = {n: dut.fact(n) for n in STATE_FACTS if dut.offers(n)}
    model.sync(facts, dut.now())
    return model
