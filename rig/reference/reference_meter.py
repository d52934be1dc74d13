"""A reference model of a compliant meter, written from the standard's rules and the profile's
declared values, never from the emulated meter (if the model under test and the reference
shared code, they would share bugs). It decodes tokens with `sts.decode` (the standard's
own token format) and judges them itself.

Rules (IEC 62055-41:2014 clauses as quoted in ../shared/sts/NOTES.md §10, SPLN D3.009-1 and
the profile's declared values as in docs/profile.md):
- authentication (7.3.6): class 1 by CRC and manufacturer code (this meter's or 0); class 0
  and 2 by the CRC after decryption under the decoder key (CRC_ERROR);
- function: reserved subclasses, credit subclasses not declared in tokens.credit_subclasses,
  the phase unbalance limit unless tokens.phase_unbalance, SetTariffRate ("reserved for future
  definition", 6.3.11), SetWaterMeterFactor on an electricity meter, the 4th key change
  section (6.3.17) unless tokens.key_change_128bit (FUNCTION_ERROR);
- key type (6.5.2.3/6.5.2.4): credit under a DDTK (DDTK_ERROR); a key change to a DITK from
  another key type, or to a DCTK on a keypad meter (KEY_TYPE_ERROR);
- TID (7.3.7), class 0 and 2 except key change sections: (TID >> 16) > KEN when
  tokens.key_expiry (KEY_EXPIRED); the TID in the store (USED); below the smallest TID of a
  full store of tokens.tid_store_depth, or below the store's floor (OLD);
- ClearCredit of a register other than 0..7 or 0xFFFF (RANGE_ERROR);
- credit past tokens.max_credit_kwh (OVERFLOW); credit while tamper is latched and
  tamper.refuse_credit (TAMPER); a class 0/2 token during a lock-out (LOCKED).
Where several refusals apply, the standard does not order them: any of them is allowed.
Key change sections are held in any order until the set is complete (2 sections, 3 with a
new SGC, 4 for a 128-bit key); the set replaces key, KRN, KT, TI, KEN (and SGC); RO clears
the TID store. Lock-out, relay, overload and alarm follow the profile's declared policy.

Times are bench seconds (the injector's clock). The model keeps an interval for every
metered quantity (credit, energy) and allows both relay states within `edge_s` of a
declared timer's end, so a compliant meter is never failed for the bench's own resolution.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

import sts
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
from rig.reference.expectation import Allowed, Deviation, Expectation

CLEARABLE = frozenset(range(8)) | {0xFFFF}
KCT_SUBCLASSES = {3: "kct1", 4: "kct2", 8: "kct3", 9: "kct4"}
REFUSALS_COUNTED = "every refused class 0/1/2 token (not a LOCKED entry, not a short code)"


@dataclass
class Band:
    """A quantity known to lie in `low`..`high` (metering tolerance, timing brackets)."""

    low: float
    high: float

    def shift(self, low: float, high: float | None = None) -> None:
        self.low += low
        self.high += low if high is None else high

    def set(self, value: float) -> None:
        self.low = self.high = float(value)

    def exact(self) -> bool:
        return abs(self.high - self.low) < 1e-9


@dataclass
class KeyData:
    """The decoder key register (6.5.2.5): key, EA, KT, KRN, TI, SGC, KEN and base date."""

    decoder_key: bytes = field(repr=False)
    ea: str = "07"
    kt: int = 2
    krn: int = 1
    ti: str = "01"
    sgc: str = "000000"
    ken: int = 255
    base_date: int = 1993


@dataclass
class Items:
    """Every persistent item a compliant meter keeps, as the reference knows it."""

    key: KeyData
    credit: list[Band] = field(default_factory=lambda: [Band(0.0, 0.0) for _ in range(8)])
    tids: list[int] = field(default_factory=list)
    tid_floor: int = 0
    held: dict[int, dict[str, Any]] = field(default_factory=dict)
    power_limit_w: float = 0.0
    unbalance_limit_w: float = 0.0
    tamper: bool = False
    tamper_events: int = 0
    refusals: int = 0
    locked_until: float | None = None
    overload_trips: int = 0
    trip_times: list[float] = field(default_factory=list)
    over_since: float | None = None
    overload_open: bool = False
    reconnect_at: float | None = None
    test_until: float | None = None
    over_jitter: float = 0.0  # how late the load may have crossed the limit (bench s)
    trip_jitter: float = 0.0  # how late the last trip may have come
    trip_pending_until: float = float("-inf")  # the last trip counted or not until then
    jitter_until: float = float("-inf")  # relay either way until then (a trip's bracket)
    relay_closed: bool | None = False  # None: either (a timer or the credit at its edge)
    relay_cause: frozenset[str] = frozenset({"POWER"})
    energy: Band = field(default_factory=lambda: Band(0.0, 0.0))
    outages: int = 0
    alarm_level_kwh: float = 10.0
    powered: bool = True
    load_w: float = 0.0
    voltage_v: float = 230.0
    clock_at: float | None = None  # bench time the clock was synced
    clock_value: Any = None  # the meter's datetime then


class ReferenceMeter:
    """`apply(event, t) -> Expectation`; `expected(t)`; `check(observed, t)`."""

    def __init__(self, profile: Any, key: KeyData, *, mfr_code: int, t: float = 0.0,
                 edge_s: float = 1.0, keypad: bool = True) -> None:
        self.profile = profile
        self.mfr_code = int(mfr_code)
        self.edge_s = float(edge_s)
        self.keypad = keypad
        self.t = float(t)
        self.items = Items(key=key, alarm_level_kwh=float(profile.alarm.low_credit_kwh),
                           voltage_v=float(profile.ratings.voltage_v))
        self.history: list[str] = []

    # --- construction ----------------------------------------------------------------------

    def sync(self, facts: dict[str, Any], t: float) -> None:
        """Take the items the meter reported where nothing else can know them (credit,
        counters, limits) as the starting state; the TID store must have been emptied by a
        key change with RO set (`forget_tids`)."""
        it = self.items
        self.t = float(t)
        if "credit" in facts:
            it.credit[0].set(float(facts["credit"]))
        for name, attr in (("power_limit", "power_limit_w"),
                           ("unbalance_limit", "unbalance_limit_w"),
                           ("tamper_events", "tamper_events"), ("outages", "outages"),
                           ("overload_trips", "overload_trips"),
                           ("alarm_level", "alarm_level_kwh")):
            if name in facts and facts[name] is not None:
                setattr(it, attr, type(getattr(it, attr))(facts[name]))
        if "tamper" in facts:
            it.tamper = bool(facts["tamper"])
        if "energy_import" in facts:
            it.energy.set(float(facts["energy_import"]))
        if "relay_closed" in facts:
            it.relay_closed = bool(facts["relay_closed"])
        if "relay_reason" in facts:
            it.relay_cause = frozenset({str(facts["relay_reason"])})
        if "lockout_refusals" in facts:
            it.refusals = int(facts["lockout_refusals"])

    def copy(self) -> ReferenceMeter:
        """An independent copy of the state (the profile is shared: it never changes)."""
        twin = copy.copy(self)
        twin.items = copy.deepcopy(self.items)
        twin.history = list(self.history)
        return twin

    # --- declared values -------------------------------------------------------------------

    @property
    def threshold_kwh(self) -> float:
        return float(self.profile.relay.disconnect_credit_kwh)

    def _class_pct(self) -> float:
        return float(self.profile.ratings.accuracy_class) / 100.0

    # --- time ------------------------------------------------------------------------------

    def advance(self, t: float) -> None:
        """Let bench time run to `t`: energy, credit, and every declared timer that ends."""
        it = self.items
        while t > self.t + 1e-9:
            due = self._next_timer()
            step_to = min(t, due[0]) if due else t
            self._integrate(step_to - self.t)
            self.t = step_to
            self._settle_credit_relay()
            if due and due[0] <= step_to + 1e-9:
                due[1]()
        if it.locked_until is not None and self.t > it.locked_until + self.edge_s:
            it.locked_until = None

    def _next_timer(self) -> tuple[float, Any] | None:
        it, ov = self.items, self.profile.overload
        timers: list[tuple[float, Any]] = []
        if it.test_until is not None:
            timers.append((it.test_until, self._test_end))
        if it.over_since is not None and not it.overload_open:
            timers.append((it.over_since + float(ov.trip_delay_s), self._trip))
        if it.reconnect_at is not None:
            timers.append((it.reconnect_at, self._reconnect))
        timers.extend(self._exhaustion())
        return min(timers, key=lambda x: x[0]) if timers else None

    def _exhaustion(self) -> list[tuple[float, Any]]:
        """When the credit reaches the disconnect threshold under the load: at the earliest
        (fastest metering the class allows) the relay may open, at the latest it must."""
        it = self.items
        if not it.powered or it.load_w <= 0 or it.relay_closed is False:
            return []
        c, thr, rate = it.credit[0], self.threshold_kwh, it.load_w / 3.6e6
        pct = self._class_pct()
        found = []
        if it.relay_closed is True and c.low > thr:
            found.append((self.t + (c.low - thr) / (rate * (1 + pct)), self._settle_credit_relay))
        if c.high > thr:
            found.append((self.t + (c.high - thr) / (rate * (1 - pct)), self._settle_credit_relay))
        return found

    def _integrate(self, dt: float) -> None:
        it = self.items
        if dt <= 0 or not it.powered or it.load_w <= 0 or it.relay_closed is False:
            return
        kwh = it.load_w * dt / 3.6e6
        c = self._class_pct()
        low = 0.0 if it.relay_closed is None else kwh * (1 - c)
        it.energy.shift(low, kwh * (1 + c))
        credit = it.credit[0]
        thr = self.threshold_kwh
        credit.low = max(thr, credit.low - kwh * (1 + c)) if credit.low > thr else credit.low
        credit.high = max(thr, credit.high - kwh * (1 - c)) if credit.high > thr else credit.high

    def _settle_credit_relay(self) -> None:
        if self.items.powered:
            self._relay(self._want_closed(), "CREDIT")

    def _want_closed(self) -> bool | None:
        it = self.items
        if not it.powered or it.test_until is not None or it.overload_open:
            return False
        c, thr = it.credit[0], self.threshold_kwh
        if c.low > thr + 1e-9:
            return True
        if c.high <= thr + 1e-9:
            return False
        return None

    def _relay(self, want: bool | None, cause: str, jitter: float = 0.0) -> None:
        """Move the relay; `jitter`: how much later than now it may really have moved."""
        it = self.items
        if want == it.relay_closed and want is not None:
            return
        if want is None or it.relay_closed is None:
            it.relay_cause = it.relay_cause | {cause}
        else:
            it.relay_cause = frozenset({cause})
        it.relay_closed = want
        self._check_over(jitter)

    def _check_over(self, jitter: float = 0.0) -> None:
        """Start or end the overload timer. `jitter`: how much later than now the load may
        really have gone over the limit (a load command's bracket, a reconnection after a
        trip known to a bracket); a limit token or a power-up starts it at a known time."""
        it = self.items
        over = (it.power_limit_w > 0 and it.powered and it.relay_closed is not False
                and it.load_w > it.power_limit_w)
        if over and it.over_since is None and not it.overload_open:
            it.over_since = self.t
            it.over_jitter = jitter
        elif not over:
            it.over_since = None

    def _trip(self) -> None:
        it, ov = self.items, self.profile.overload
        it.over_since = None
        if it.over_jitter > 0:  # the load may have gone over this much later: so the trip
            kwh = it.load_w * it.over_jitter * (1 + self._class_pct()) / 3.6e6
            it.energy.high += kwh
            it.credit[0].low = max(self.threshold_kwh, it.credit[0].low - kwh)
            it.jitter_until = self.t + it.over_jitter + self.edge_s
        it.trip_jitter = it.over_jitter
        it.trip_pending_until = self.t + it.over_jitter + self.edge_s
        it.overload_trips += 1
        it.trip_times = [x for x in it.trip_times if x > self.t - float(ov.window_s)] + [self.t]
        it.overload_open = True
        it.reconnect_at = (self.t + float(ov.reconnect_s)
                           if len(it.trip_times) < int(ov.max_trips) else None)
        self._relay(False, "OVERLOAD")

    def _reconnect(self) -> None:
        it = self.items
        it.reconnect_at = None
        it.jitter_until = self.t + it.trip_jitter + self.edge_s
        it.overload_open = False
        self._relay(self._want_closed(), "OVERLOAD", it.trip_jitter)

    def _test_end(self) -> None:
        self.items.test_until = None
        self._relay(self._want_closed(), "TEST")

    # --- events ----------------------------------------------------------------------------

    def apply(self, event: Event, t: float, *, seen: str | set[str] | None = None,
              t_late: float | None = None) -> Expectation:
        """Carry out `event` at bench time `t` and say what must follow. For an entry whose
        outcome the rules leave open (a lock-out or the maximum credit at their edges),
        `seen` is the outcome the meter gave; when it is one of the allowed outcomes the
        model follows it (the returned Expectation judges it)."""
        self.advance(t)
        self.history.append(event.step())
        outcome: Allowed | None = None
        if isinstance(event, EnterToken):
            outcome = self._token(event.digits, seen)
        elif isinstance(event, EnterCode):
            outcome = self._code(event.code)
        elif isinstance(event, PowerCycle):
            self._power_cycle(event.off_s)
        elif isinstance(event, Wait):
            self.advance(self.t + event.seconds)
        elif isinstance(event, SetLoad):
            self._set_load(float(event.watts), (t_late or t) - t)
        elif isinstance(event, SetVoltage):
            self.items.voltage_v = float(event.volts)
        elif isinstance(event, EarthLeak):
            self._earth_leak(event.amps, (t_late or t) - t)
        else:
            raise TypeError(f"the reference model has no rule for {event!r}")
        return Expectation(event.step(), outcome, self.expected(self.t))

    def forget_tids(self) -> None:
        """The TID store is empty and has no floor (after a key change with RO set)."""
        self.items.tids.clear()
        self.items.tid_floor = 0

    def _power_cycle(self, off_s: float) -> None:
        """Credit, TID store, keys, limits, tamper and counters are non-volatile; the
        lock-out ends when declared (lockout.reset_on_power_cycle); an overload
        disconnection, its reconnection timer, the trip window and a relay test are volatile
        and end (the relay follows the credit at power-up). The relay's cause stays where a
        (latching) relay did not move, else it is POWER."""
        it = self.items
        was = it.relay_closed
        it.powered = False
        it.over_since = None
        self.advance(self.t + off_s)
        it.powered = True
        it.outages += 1
        if self.profile.lockout.reset_on_power_cycle:
            it.refusals, it.locked_until = 0, None
        it.overload_open, it.reconnect_at, it.trip_times = False, None, []
        it.test_until = None
        want = self._want_closed()
        it.relay_closed = want
        it.relay_cause = it.relay_cause | {"POWER"} if want == was and want is not None \
            else frozenset({"POWER"})
        self._check_over()

    def _set_load(self, watts: float, jitter: float) -> None:
        """The load changes somewhen in `t`..`t + jitter` (a host-side command bracket):
        taken at `t`, the energy and credit widened by what the bracket may hold."""
        it = self.items
        kwh = max(it.load_w, watts) * jitter * (1 + self._class_pct()) / 3.6e6
        if it.powered and it.relay_closed is not False and kwh > 0:
            it.energy.low -= kwh
            it.energy.high += kwh
            it.credit[0].low = max(self.threshold_kwh, it.credit[0].low - kwh) \
                if it.credit[0].low > self.threshold_kwh else it.credit[0].low
            it.credit[0].high += kwh
        it.load_w = max(0.0, watts)
        self._check_over(jitter)

    def _earth_leak(self, amps: float, jitter: float = 0.0) -> None:
        it = self.items
        detected = (amps > float(self.profile.tamper.leak_threshold_a) and it.powered
                    and it.relay_closed is True)
        if detected and not it.tamper:
            it.tamper = True
            it.tamper_events += 1
        self.advance(self.t + 1.0)

    # --- entries ---------------------------------------------------------------------------

    def _locked(self) -> bool | None:
        until = self.items.locked_until
        if until is None or self.t > until + self.edge_s:
            return False
        if self.t < until - self.edge_s:
            return True
        return None

    def _refused(self) -> None:
        it, lock = self.items, self.profile.lockout
        it.refusals += 1
        length = lock.duration(it.refusals)
        if length > 0:
            it.locked_until = self.t + length

    def _accepted_meter_specific(self) -> None:
        it = self.items
        it.refusals, it.locked_until = 0, None
        if it.overload_open and it.reconnect_at is None:  # past the max trips: a token
            it.overload_open, it.trip_times = False, []
            self._relay(self._want_closed(), "OVERLOAD")

    def _token(self, digits: str, seen: str | set[str] | None) -> Allowed:
        try:
            decoded = sts.decode(digits)
        except sts.StsError:
            self._refused()
            return Allowed.exactly("FORMAT_ERROR", "not a token of class 0, 1 or 2")
        if decoded.cls == 1:
            return self._test_token(decoded)
        locked = self._locked()
        if locked is True:
            return Allowed.exactly("LOCKED", "a class 0/2 token during the declared lock-out")
        key = self.items.key
        plain = sts.decode(digits, key.decoder_key, key.ea)
        reasons, effect = self._judge(plain)
        allowed = set(reasons) or {effect}
        optional = {r for r in allowed if r.endswith("?")}
        if optional:  # a refusal the rules leave open (e.g. the maximum credit at its edge)
            allowed = (allowed - optional) | {r.rstrip("?") for r in optional} | {effect}
        if locked is None:  # at the lock-out's declared end: either
            allowed.add("LOCKED")
        seen_set = {seen} if isinstance(seen, str) else set(seen or ())
        if len(allowed) == 1:
            happened = next(iter(allowed))
        elif allowed & seen_set:
            told = allowed & seen_set
            happened = effect if effect in told else sorted(told)[0]
        else:  # not told (or the meter did something not allowed): the rules' own choice
            happened = effect if effect in allowed and not reasons else \
                sorted(allowed - {effect, "LOCKED"} or allowed)[0]
        if happened == effect:
            self._commit(plain)
        elif happened != "LOCKED":
            self._refused()
        return Allowed.any_of(sorted(allowed), self._why(plain, reasons))

    def _why(self, plain: Any, reasons: set[str]) -> str:
        if not plain.crc_ok:
            return "CRC wrong under the decoder key (wrong key, wrong meter or a typo)"
        shown = sorted(r.rstrip("?") for r in reasons)
        return f"{plain.kind} token" + (f": {', '.join(shown)}" if shown else " accepted")

    def _judge(self, plain: Any) -> tuple[set[str], str]:
        """The refusals that apply to a decrypted class 0/2 token, and its effect when none
        does (ACCEPT or KCT_HELD)."""
        it, tokens = self.items, self.profile.tokens
        if not plain.crc_ok:
            return {"CRC_ERROR"}, "ACCEPT"
        cls, sub, kind = plain.cls, plain.subclass, plain.kind
        reasons: set[str] = set()
        if kind == "reserved" or (cls == 0 and sub not in tokens.credit_subclasses) \
                or (kind == "phase_unbalance" and not tokens.phase_unbalance):
            reasons.add("FUNCTION_ERROR")
        if kind == "clear_credit" and plain.fields["register"] in CLEARABLE - {0xFFFF} \
                and plain.fields["register"] not in tokens.credit_subclasses:
            # a register (water, gas, ...) this meter does not keep: clearing it may be taken
            # (nothing to clear) or refused; either way no credit the meter keeps changes
            reasons.add("FUNCTION_ERROR?")
        if kind in ("tariff_rate", "water_factor"):
            # 6.3.11/6.3.12: reserved for future definition / for water meters; the profile
            # declares neither, and no item of this model depends on them: either outcome
            reasons.add("FUNCTION_ERROR?")
        if it.key.kt == 3 and self.keypad:
            reasons.add("KEY_TYPE_ERROR")
        if cls == 2 and sub == 9 and not tokens.key_change_128bit:
            # 6.3.17, the 4th section of a 128-bit key: refused by a meter of 64-bit keys
            # only (declared false); either way where the profile does not say
            reasons.add("FUNCTION_ERROR" if tokens.key_change_128bit is False
                        else "FUNCTION_ERROR?")
        if sub in KCT_SUBCLASSES and cls == 2:
            if KCT_SUBCLASSES[sub] == "kct1":
                new_kt = plain.fields["kt"]
                if (new_kt == 0 and it.key.kt != 0) or (new_kt == 3 and self.keypad):
                    reasons.add("KEY_TYPE_ERROR")
            held = dict(it.held)
            held[sub] = plain.fields
            return reasons, "ACCEPT" if self._complete(held) else "KCT_HELD"
        if cls == 0 and it.key.kt == 1:
            reasons.add("DDTK_ERROR")
        tid = plain.tid
        if tid is not None:
            if tokens.key_expiry and (tid >> 16) > it.key.ken:
                reasons.add("KEY_EXPIRED")
            if tid in it.tids:
                reasons.add("USED")
            elif tid < it.tid_floor or (len(it.tids) >= int(tokens.tid_store_depth)
                                        and tid < min(it.tids)):
                reasons.add("OLD")
        if kind == "clear_credit" and plain.fields["register"] not in CLEARABLE:
            reasons.add("RANGE_ERROR")
        if cls == 0 and it.tamper and self.profile.tamper.refuse_credit:
            reasons.add("TAMPER")
        if cls == 0 and sub == 0 and not reasons:
            amount = float(plain.fields["amount"])
            top = float(tokens.max_credit_kwh)
            res = float(self.profile.display.credit_resolution_kwh)
            c = it.credit[0]
            if c.low + amount > top + res:
                reasons.add("OVERFLOW")
            elif c.high + amount > top - res:
                reasons.add("OVERFLOW?")
        return reasons, "ACCEPT"

    def _complete(self, held: dict[int, dict[str, Any]]) -> bool:
        if 3 not in held or 4 not in held:
            return False
        wide = self.items.key.ea == "11" or 9 in held or (8 in held
                                                          and not held[3]["kct3_follows"])
        if wide:
            return 8 in held and 9 in held
        return 8 in held if held[3]["kct3_follows"] else True

    def _commit(self, plain: Any) -> None:
        it = self.items
        cls, sub, kind, fields = plain.cls, plain.subclass, plain.kind, plain.fields
        if cls == 2 and sub in KCT_SUBCLASSES:
            it.held[sub] = fields
            if self._complete(it.held):
                self._key_change()
                self._accepted_meter_specific()
            return
        tid = plain.tid
        if tid is not None:
            it.tids = sorted(set(it.tids) | {tid})
            depth = int(self.profile.tokens.tid_store_depth)
            del it.tids[:max(0, len(it.tids) - depth)]
        self._accepted_meter_specific()
        if cls == 0:
            it.credit[sub].shift(float(fields["amount"]))
            self._relay(self._want_closed(), "CREDIT")
        elif kind == "power_limit":
            it.power_limit_w = float(fields["watts"])
            self._check_over()
        elif kind == "clear_credit":
            for i in range(8):
                if fields["register"] in (i, 0xFFFF):
                    it.credit[i].set(0.0)
            self._relay(self._want_closed(), "CREDIT")
        elif kind == "clear_tamper":
            it.tamper = False
        elif kind == "phase_unbalance":
            it.unbalance_limit_w = float(fields["watts"])

    def _key_change(self) -> None:
        it = self.items
        h = it.held
        first, second = h[3], h[4]
        old = it.key
        sgc = old.sgc
        wide = 9 in h
        if wide:
            key_int = (first["nkho"] << 96 | h[8]["nkmo2"] << 64 | h[9]["nkmo1"] << 32
                       | second["nklo"])
            key, ea = key_int.to_bytes(16, "big"), "11"
            sgc = f"{h[9]['sgc_high'] << 12 | h[8]['sgc_low']:06d}"
        else:
            key, ea = (first["nkho"] << 32 | second["nklo"]).to_bytes(8, "big"), old.ea
            if first["kct3_follows"] and 8 in h:
                sgc = f"{h[8]['sgc_3kct']:06d}"
        it.key = KeyData(key, ea, first["kt"], first["krn"], f"{second['ti']:02d}", sgc,
                         first["ken_high"] << 4 | second["ken_low"], old.base_date)
        it.held = {}
        if first["ro"]:
            self.forget_tids()

    def _test_token(self, decoded: Any) -> Allowed:
        if not decoded.crc_ok:
            self._refused()
            return Allowed.exactly("CRC_ERROR", "class 1 token with a wrong CRC")
        if decoded.kind != "test":
            self._refused()
            return Allowed.exactly("FUNCTION_ERROR", f"class 1 subclass {decoded.subclass} "
                                   "is not a test the profile declares")
        fields = decoded.fields
        if fields["mfr_code"] not in (0, self.mfr_code):
            self._refused()
            return Allowed.exactly("MFR_CODE_ERROR", "test token for another manufacturer")
        bits = 36 if fields["mfr_digits"] == 2 else 28
        control = int(fields["control"])
        if control == (1 << bits) - 1 or control & 1:  # test 0 (all) or test 1 (relay)
            self._relay_test()
        return Allowed.exactly("ACCEPT", "class 1 tests work without a key, also when locked")

    def _relay_test(self) -> None:
        it = self.items
        it.test_until = self.t + float(self.profile.relay.test_duration_s)
        self._relay(False, "TEST")

    def _code(self, code: str) -> Allowed:
        it = self.items
        if code.startswith("456") and len(code) == 5:
            it.alarm_level_kwh = float(code[3:])
        elif len(code) == 2 and code in ("00", "01"):
            self._relay_test()
        return Allowed.anything("short codes answer with a value")

    # --- what a compliant meter shows ------------------------------------------------------

    def expected(self, t: float | None = None, slack: float = 0.0) -> dict[str, Allowed]:
        """Allowed value of every fact at bench time `t` (observed within +-`slack`)."""
        t = self.t if t is None else t
        early, late = self.copy(), self.copy()
        early.advance(max(t - slack, self.t))
        late.advance(max(t + slack, self.t))
        a, b = early._facts(), late._facts()
        merged: dict[str, Allowed] = {}
        for name, first in a.items():
            merged[name] = _merge(first, b[name])
        return merged

    def _facts(self) -> dict[str, Allowed]:
        it, p = self.items, self.profile
        tol = float(p.display.credit_resolution_kwh) / 2 + 0.0005
        credit = it.credit[0]
        k = it.key
        facts = {
            "credit": Allowed.between(credit.low - tol, credit.high + tol,
                                      "credit register, metering class and display step"),
            "key_revision": Allowed.exactly(k.krn, "KRN of the last complete key change set"),
            "key_type": Allowed.exactly(k.kt, "KT of the last complete key change set"),
            "tariff_index": Allowed.any_of({k.ti, int(k.ti)}, "TI of the last key change"),
            "supply_group": Allowed.any_of({k.sgc, int(k.sgc)}, "SGC"),
            "key_expiry": Allowed.exactly(k.ken, "KEN of the last key change set"),
            "base_date": Allowed.exactly(k.base_date, "a key change does not move it"),
            "power_limit": Allowed.exactly(it.power_limit_w, "last power limit token"),
            "unbalance_limit": Allowed.exactly(it.unbalance_limit_w, "last unbalance token"),
            "tamper": Allowed.exactly(int(it.tamper), "latched until a clear tamper token"),
            "tamper_events": Allowed.exactly(it.tamper_events, "each tamper raised counts"),
            "lockout_refusals": Allowed.exactly(it.refusals, REFUSALS_COUNTED),
            "overload_trips": Allowed.any_of({it.overload_trips - 1, it.overload_trips},
                                             "a trip due within the load command's bracket")
            if self.t < it.trip_pending_until else
            Allowed.exactly(it.overload_trips, "each trip counts"),
            "outages": Allowed.exactly(it.outages, "each supply interruption counts"),
            "alarm_level": Allowed.exactly(it.alarm_level_kwh, "declared, or set by 456xx"),
            "energy_import": Allowed.between(it.energy.low - 0.0015, it.energy.high + 0.0015,
                                             "energy register, metering class"),
        }
        if it.relay_closed is None or self.t < it.jitter_until:
            facts["relay_closed"] = Allowed.any_of({0, 1}, "at a timer's or credit's edge")
        else:
            facts["relay_closed"] = Allowed.exactly(int(it.relay_closed), _relay_why(it))
        causes = it.relay_cause | ({"OVERLOAD"} if self.t < it.jitter_until else set())
        facts["relay_reason"] = Allowed.any_of(causes, "cause of the last change")
        level = it.alarm_level_kwh
        if credit.high <= level - tol:
            facts["low_credit_alarm"] = Allowed.exactly(1, "credit at or below the alarm level")
        elif credit.low > level + tol:
            facts["low_credit_alarm"] = Allowed.exactly(0, "credit above the alarm level")
        else:
            facts["low_credit_alarm"] = Allowed.any_of({0, 1}, "credit at the alarm level")
        return facts

    def check(self, observed: dict[str, Any], t: float | None = None,
              slack: float = 0.0, step: str = "") -> list[Deviation]:
        """The deviations of `observed` facts from what a compliant meter shows at `t`."""
        expected = self.expected(t, slack)
        return Expectation(step or (self.history[-1] if self.history else "start"), None,
                           expected).check(observed)


def _relay_why(it: Items) -> str:
    if not it.powered:
        return "no supply"
    if it.test_until is not None:
        return "relay test running"
    if it.overload_open:
        return "tripped on overload"
    return "credit above the disconnect threshold" if it.relay_closed else \
        "no credit above the disconnect threshold"


def _merge(a: Allowed, b: Allowed) -> Allowed:
    if a == b:
        return a
    if a.free or b.free:
        return Allowed.anything(a.why)
    if a.values is not None and b.values is not None:
        return Allowed.any_of(a.values | b.values, a.why)
    if a.low is not None and b.low is not None:
        return Allowed.between(min(a.low, b.low), max(a.high, b.high), a.why)  # type: ignore
    return Allowed.anything(a.why)


def amount_of(token: Any) -> Decimal:
    """The credit a class 0 token carries (for the plans' labels)."""
    return Decimal(str(token.fields.get("amount", 0)))
