"""Puts the meter under test (and the reference model with it) into a named state and does
the matrix's actions: the bench side of `rig.reference.matrix`, shared by the state matrix
plan and the exploration plan. Every token goes through the `Conductor`, so every step,
setup steps included, is judged against the reference model."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import sts
from rig.reference import matrix as mx
from rig.reference.conductor import Conductor, Step, bench_key, start_model
from rig.reference.crafted_tokens import class1_token, class3_token, mistyped, raw_token
from rig.reference.events import (
    EarthLeak,
    EnterCode,
    EnterToken,
    PowerCycle,
    SetLoad,
    Wait,
)
from rig.reference.expectation import Allowed, Deviation

FAST = (40, 60)  # press and gap, ms: a token in about 2 s of bench time
OTHER_PAN = "600727000000000009"  # the compliance tests' meter: a stranger to this bench
STRANGER_KEY = bytes(range(1, 9))  # a key no meter of this bench holds
LOCKED_FOR_S = 40.0  # a lock-out at least this long (bench s) to act inside it
DEPLETE_W = 1200.0  # the depletion row's load: under a PLN 1300 VA contract (ratings)
DEPLETE_KWH = Decimal("0.2")  # its credit (STS amounts step by 0.1 kWh): 600 s at 1200 W


class Walker:
    """The bench meter and its reference model, moved through the matrix's states."""

    def __init__(self, dut: Any, vendor: Any, profile: Any, config: Any, *, load: Any,
                 scope: Any = None, switch: Any = None, timer: Any = None,
                 mfr_code: int) -> None:
        self.dut, self.bench_vendor, self.profile = dut, vendor, profile
        self.config, self.load, self.scope, self.switch = config, load, scope, switch
        self.mfr_code = mfr_code
        self.timer = timer  # the scope's relay edge timer (rig.bench.capabilities), or None
        self.home_key = bench_key(vendor, config)
        self.vendors: dict[bytes, Any] = {bytes(vendor.decoder_key): vendor}
        self.krn = 1
        self.c: Conductor | None = None
        self.last_credit: str | None = None
        self.explore: float | None = None  # the long run's budget, when given

    # --- start ---------------------------------------------------------------------------

    def start(self) -> Conductor:
        """Key change to the bench's own key with RO set (the TID store emptied, so the model
        knows it), then the model takes the meter's counters and credit as they are."""
        dut = self.dut
        dut.prepare()
        model = start_model(dut, self.bench_vendor, self.config, self.profile,
                            mfr_code=self.mfr_code)
        self.c = Conductor(dut, model, load=self.load, switch=self.switch)
        self.c.fast = FAST
        steps = self.key_change(self.bench_vendor, krn=self.home_key.krn, rollover=True)
        if steps[-1].outcome is not None and not steps[-1].deviations:
            model.forget_tids()
        return self.c

    def follow(self, dut: Any) -> None:
        """A new test's `dut` (its prepare() may have power-cycled the meter to end a
        lock-out the run's entry log saw: the model follows when the outage count moved)."""
        assert self.c is not None
        self.dut = self.c.dut = dut
        model = self.c.model
        if dut.offers("outages"):
            moved = int(dut.fact("outages")) - model.items.outages
            for _ in range(max(0, moved)):
                model.apply(PowerCycle(2.0), dut.now())
        elif model.items.refusals and dut.entries.refusals == 0 \
                and self.profile.lockout.reset_on_power_cycle:
            model.apply(PowerCycle(2.0), dut.now())
        model.advance(max(model.t, dut.now()))

    def resync(self) -> None:
        """Take the meter's readable items (credit, counters, limits, tamper, relay) as they
        are now: a new sequence starts from what both agree on, not from an earlier
        deviation (the key and the TID store cannot be read and stay as the model has them)."""
        assert self.c is not None
        dut, model = self.dut, self.c.model
        model.advance(max(model.t, dut.now()))
        facts = {n: r.value for n, r in self.c.read().items()}
        model.sync(facts, max(model.t, dut.now()))

    # --- the meter's key -------------------------------------------------------------------

    @property
    def model(self) -> Any:
        assert self.c is not None
        return self.c.model

    @property
    def current(self) -> Any:
        """A vendor under the key the model says the meter holds."""
        key = self.model.items.key
        vendor = self.vendors.get(bytes(key.decoder_key))
        if vendor is None:
            raise LookupError("the meter holds a key this walker did not give it")
        return vendor

    def next_krn(self) -> int:
        self.krn = self.krn % 9 + 1
        if self.krn == self.home_key.krn:
            self.krn = self.krn % 9 + 1
        return self.krn

    def new_vendor(self, *, krn: int, kt: int = 2, base_date: int | None = None) -> Any:
        bench = self.bench_vendor
        vendor = bench.with_key(bench.derive(krn=krn, kt=kt), kt=kt, base_date=base_date)
        self.vendors[bytes(vendor.decoder_key)] = vendor
        return vendor

    def key_change(self, target: Any, *, krn: int, kt: int = 2, ken: int = 255,
                   rollover: bool = False, sgc: str | None = None,
                   order: tuple[int, ...] | None = None, under: Any = None,
                   label: str = "") -> list[Step]:
        """Enter the key change set to `target`'s key, made under the meter's key (or
        `under`), in `order` (default: entry order)."""
        self.vendors.setdefault(bytes(target.decoder_key), target)
        maker = under or self.current
        tokens = maker.key_change(target.decoder_key, new_kt=kt, new_krn=krn,
                                  new_ti=self.home_key.ti, new_ken=ken, rollover=rollover,
                                  new_sgc=sgc)
        what = label or f"key change to KRN {krn} KT {kt}" + (" RO" if rollover else "") + \
            (f" KEN {ken}" if ken != 255 else "") + (f" SGC {sgc}" if sgc else "")
        steps = []
        for i in order if order is not None else range(len(tokens)):
            steps.append(self.token(tokens[i].digits, f"{what}, section {i + 1} of "
                                                      f"{len(tokens)}"))
        return steps

    # --- events ----------------------------------------------------------------------------

    def token(self, digits: Any, label: str) -> Step:
        assert self.c is not None
        digits = str(digits)
        step = self.c.do(EnterToken(digits, label))
        if _token_class(digits) == 0 and self.c.last_accepted:
            self.last_credit = digits
        return step

    def wait(self, seconds: float) -> Step:
        assert self.c is not None
        return self.c.do(Wait(seconds))

    # --- states ----------------------------------------------------------------------------

    def home(self) -> None:
        """No lock-out, no tamper, the bench key, no power limit, load off, the declared
        alarm level, no relay test or overload trip pending."""
        m = self.model
        it, p = m.items, self.profile
        m.advance(max(m.t, self.dut.now()))
        if it.load_w:
            self.c.do(SetLoad(0))
        if it.locked_until is not None:
            if p.lockout.reset_on_power_cycle:
                self.c.do(PowerCycle(2.0))
            else:
                self.wait(it.locked_until - m.t + 2 * m.edge_s)
        if it.overload_open:
            self.c.do(PowerCycle(2.0)) if it.reconnect_at is None else \
                self.wait(it.reconnect_at - m.t + 2 * m.edge_s)
        if it.test_until is not None:
            self.wait(it.test_until - m.t + 2 * m.edge_s)
        key, home = it.key, self.home_key
        if (bytes(key.decoder_key), key.kt, key.ken, key.sgc) != \
                (bytes(home.decoder_key), home.kt, home.ken, home.sgc):
            self.key_change(self.bench_vendor, krn=home.krn, kt=home.kt, ken=home.ken,
                            sgc=home.sgc if key.sgc != home.sgc else None,
                            label="key change back to the bench key")
        if it.tamper:
            self.token(self.current.clear_tamper().digits, "clear tamper")
        if it.power_limit_w:
            self.token(self.current.power_limit(0).digits, "power limit 0 (none)")
        if it.alarm_level_kwh != float(p.alarm.low_credit_kwh):
            self.c.do(EnterCode(f"456{int(p.alarm.low_credit_kwh):02d}"))
        if it.refusals:
            self.token(self.current.power_limit(0).digits, "an accepted token ends the count")

    def credit_to(self, low: float, high: float, target: float) -> None:
        credit = self.model.items.credit[0]
        if credit.low >= low and credit.high <= high:
            return
        if credit.high > high:
            self.token(self.current.clear_credit(0).digits, "clear credit")
            credit = self.model.items.credit[0]
        add = Decimal(str(max(0.0, target - credit.low))).quantize(Decimal("0.1"))
        if add > 0:
            self.token(self.current.credit(str(add)).digits, f"credit {add} kWh")

    def ensure(self, state: str) -> None:
        """Put the meter in `state` (rig.reference.matrix states)."""
        self.home()
        level = float(self.profile.alarm.low_credit_kwh)
        if state == mx.LOW:
            self.credit_to(1.0, max(1.5, level - 2), max(1.2, level / 2))
            return
        if state == mx.EXHAUSTED:
            if self.model.items.credit[0].high > self.model.threshold_kwh:
                self.token(self.current.clear_credit(0).digits, "clear credit")
            return
        self.credit_to(level + 10, 200.0, level + 20)
        if state == mx.TRIPPED:
            self.trip()
        elif state == mx.TAMPERED:
            self.c.do(EarthLeak())
        elif state == mx.LOCKED:
            self.lock_out()
        elif state == mx.DDTK:
            target = self.new_vendor(krn=self.next_krn(), kt=1)
            self.key_change(target, krn=self.krn, kt=1)
        elif state == mx.EXPIRED:
            self.expire_key()

    def trip(self) -> None:
        """An overload trip whose start the model knows to the key press: the load drawn
        first (under no lower limit), then a power limit token below it. The relay is judged
        just inside the declared trip delay (closed) and just past it (open)."""
        self.c.do(SetLoad(1500))
        self.limit_under_load(1000)
        self.c.do(SetLoad(0))

    def limit_under_load(self, watts: int) -> None:
        """A power limit token below the load drawn: the overload starts at ENTER's
        release. The relay is read just inside the trip delay and past it; where the bench
        has the scope's relay timer, the trip is also timed from ENTER's release (an entry
        returns only after its result is read, which at a fast emulated speed can come late
        for the read just inside the delay)."""
        m, declared = self.model, float(self.profile.overload.trip_delay_s)
        # the scope arms on the supply vanishing: only while the relay is closed (a token
        # that releases a relay held open after the last trip in the window is read only)
        timer = self.timer if m.items.relay_closed is True else None
        if timer is not None:
            timer.arm_open(level=50.0, hold_s=0.05, window_s=declared + 4 * m.edge_s)
        self.token(self.current.power_limit(watts).digits,
                   f"power limit {watts} W (under the load drawn)")
        start, jitter = m.items.over_since, m.items.over_jitter
        self.within(start, declared, jitter)
        if timer is None or start is None or not timer.seen():
            return
        took = timer.after_release()
        allowed = Allowed.between(declared - m.edge_s, declared + jitter + m.edge_s,
                                  "declared overload.trip_delay_s, scope from ENTER's release")
        if not allowed.admits(took):
            self.c.steps[-1].deviations.append(Deviation(
                "trip delay (s)", round(took, 3), allowed, self.c.steps[-1].text))

    def within(self, start: float | None, declared: float, jitter: float = 0.0) -> None:
        """A declared timer that started at `start` (bench s, up to `jitter` later): the
        relay read just inside its end and again just past it, each judged by the model
        (a deviation lands on the wait's step, so the cell that set it up fails)."""
        m = self.model
        if start is None:  # no timer running: only let the declared time pass
            self.wait(declared + 2 * m.edge_s)
            return
        # the reads stand off the end by the bench's resolution, or by 2 % of a long timer
        # (a read that comes late is still judged right, but may miss an early end)
        edge = max(2 * m.edge_s, 0.02 * declared)
        now = self.dut.now()  # an entry returns after its result is read: later than m.t
        if start + declared - edge > now:
            self.wait(start + declared - edge - now)
            self.c.check(("relay_closed",))
        self.wait(max(0.0, start + declared + jitter + edge - self.dut.now()))
        self.c.check(("relay_closed",))

    def refuse_once(self) -> Step:
        wrong = self.bench_vendor.with_key(STRANGER_KEY)
        return self.token(wrong.credit("1").digits, "credit token under another key")

    def lock_out(self) -> None:
        """Refusals until the declared lock-out is long enough to act inside it."""
        lock, m = self.profile.lockout, self.model
        want = min(LOCKED_FOR_S, float(lock.cap_s))
        for _ in range(int(lock.threshold) + 40):
            self.refuse_once()
            if lock.duration(m.items.refusals) >= want:
                return
            if m.items.locked_until is not None:
                self.wait(m.items.locked_until - m.t + 2 * m.edge_s)

    def expire_key(self) -> None:
        probe = self.current.credit("0.1")
        self.token(probe.digits, "credit 0.1 kWh (today's TID)")
        target = self.new_vendor(krn=self.next_krn())
        self.key_change(target, krn=self.krn, ken=(probe.fields["tid"] >> 16) - 1)

    # --- the matrix's actions --------------------------------------------------------------

    def act(self, action: str) -> Step:
        """Do one matrix action; returns the step the row judges."""
        return getattr(self, "act_" + action)()

    def act_credit(self) -> Step:
        return self.token(self.current.credit("1").digits, "credit 1 kWh")

    def act_credit_used(self) -> Step:
        if self.last_credit is None:
            self.act_credit()
        return self.token(self.last_credit, "the last credit token again")

    def act_credit_old(self) -> Step:
        depth = int(self.profile.tokens.tid_store_depth)
        while len(self.model.items.tids) < depth:
            self.token(self.current.clear_tamper().digits, "clear tamper (fills the store)")
        oldest = min(self.model.items.tids)
        return self.token(self.current.credit("1", tid=oldest - 1).digits,
                          f"credit 1 kWh with TID {oldest - 1}, below the store")

    def act_credit_wrong_key(self) -> Step:
        return self.refuse_once()

    def act_credit_other_meter(self) -> Step:
        other = self.bench_vendor.for_meter(OTHER_PAN)
        return self.token(other.credit("1").digits, f"credit 1 kWh for meter {OTHER_PAN}")

    def act_credit_mistyped(self) -> Step:
        return self.token(mistyped(self.current.credit("1").digits), "credit 1 kWh, "
                                                                     "one digit mistyped")

    def _sub(self, subclass: int) -> Step:
        return self.token(self.current.credit("1", subclass=subclass).digits,
                          f"credit subclass {subclass}, 1 unit")

    def act_credit_sub1(self) -> Step:
        return self._sub(1)

    def act_credit_sub2(self) -> Step:
        return self._sub(2)

    def act_credit_sub3(self) -> Step:
        return self._sub(3)

    def act_currency_sub4(self) -> Step:
        return self.token(self.current.currency(4, "1").digits, "currency 1.00000, subclass 4")

    def act_class0_reserved(self) -> Step:
        return self.token(raw_token(self.current, 0, 9, 10), "class 0 subclass 9 (reserved)")

    def act_credit_overflow(self) -> Step:
        room = float(self.profile.tokens.max_credit_kwh) - self.model.items.credit[0].low
        amount = Decimal(str(room + 10)).quantize(Decimal("0.1"))
        return self.token(self.current.credit(str(amount)).digits,
                          f"credit {amount} kWh (10 kWh past the maximum)")

    def act_power_limit(self) -> Step:
        return self.token(self.current.power_limit(5000).digits, "power limit 5000 W")

    def act_power_limit_used(self) -> Step:
        token = self.current.power_limit(0)
        self.token(token.digits, "power limit 0 (none)")
        return self.token(token.digits, "the same power limit token again")

    def act_clear_credit(self) -> Step:
        return self.token(self.current.clear_credit(0).digits, "clear credit register 0")

    def act_clear_credit_all(self) -> Step:
        return self.token(self.current.clear_credit(0xFFFF).digits, "clear all credit")

    def act_clear_credit_water(self) -> Step:
        return self.token(self.current.clear_credit(1).digits,
                          "clear credit register 1 (water)")

    def act_clear_credit_range(self) -> Step:
        return self.token(self.current.clear_credit(8).digits, "clear credit register 8")

    def act_clear_credit_top(self) -> Step:
        """The field's top bit set (0x8000): a meter reading the 16-bit register one bit
        off takes it for register 0 or 1."""
        return self.token(self.current.clear_credit(0x8000).digits,
                          "clear credit register 0x8000")

    def act_clear_credit_below_all(self) -> Step:
        """0xFFFE, one below 'all registers' (0xFFFF)."""
        return self.token(self.current.clear_credit(0xFFFE).digits,
                          "clear credit register 0xFFFE")

    def act_clear_tamper(self) -> Step:
        return self.token(self.current.clear_tamper().digits, "clear tamper")

    def act_phase_unbalance(self) -> Step:
        return self.token(self.current.phase_unbalance(500).digits, "phase unbalance 500 W")

    def act_tariff_rate(self) -> Step:
        return self.token(self.current.tariff_rate(1).digits, "tariff rate 1")

    def act_water_factor(self) -> Step:
        return self.token(self.current.water_factor(1).digits, "water meter factor 1")

    def act_class2_reserved(self) -> Step:
        return self.token(raw_token(self.current, 2, 11), "class 2 subclass 11 (reserved)")

    def act_class2_wrong_key(self) -> Step:
        wrong = self.bench_vendor.with_key(STRANGER_KEY)
        return self.token(wrong.power_limit(1000).digits, "power limit under another key")

    def act_test_relay(self) -> Step:
        return self.token(sts.test_token(0x1).digits, "test token: relay test (test 1)")

    def act_test_display(self) -> Step:
        return self.token(sts.test_token(0x2).digits, "test token: display test (test 2)")

    def act_test_all(self) -> Step:
        return self.token(sts.test_token((1 << 36) - 1).digits, "test token: all tests")

    def act_test_wrong_mfr(self) -> Step:
        other = 48 if self.mfr_code != 48 else 49
        return self.token(sts.test_token(0x2, mfr_code=other).digits,
                          f"test token for manufacturer {other}")

    def act_test_bad_crc(self) -> Step:
        return self.token(class1_token(0, 0x2 << 8, good_crc=False),
                          "display test token with a wrong CRC")

    def act_class1_reserved(self) -> Step:
        return self.token(class1_token(5, 0x2 << 8), "class 1 subclass 5")

    def act_class3(self) -> Step:
        return self.token(class3_token(self.current.credit("1").digits), "class 3 number")

    def act_kct_krn(self) -> Step:
        return self.key_change(self.new_vendor(krn=self.next_krn()), krn=self.krn)[-1]

    def act_kct_reverse(self) -> Step:
        return self.key_change(self.new_vendor(krn=self.next_krn()), krn=self.krn,
                               order=(1, 0))[-1]

    def act_kct_half(self) -> Step:
        return self.key_change(self.new_vendor(krn=self.next_krn()), krn=self.krn,
                               order=(0,))[-1]

    def act_kct_sgc(self) -> Step:
        sgc = "654321" if self.home_key.sgc != "654321" else "654322"
        return self.key_change(self.new_vendor(krn=self.next_krn()), krn=self.krn,
                               sgc=sgc)[-1]

    def act_kct_rollover(self) -> Step:
        return self.key_change(self.new_vendor(krn=self.next_krn()), krn=self.krn,
                               rollover=True)[-1]

    def act_kct_ddtk(self) -> Step:
        return self.key_change(self.new_vendor(krn=self.next_krn(), kt=1), krn=self.krn,
                               kt=1)[-1]

    def act_kct_ditk(self) -> Step:
        return self.key_change(self.new_vendor(krn=self.next_krn(), kt=0), krn=self.krn,
                               kt=0, order=(0,))[-1]

    def act_kct_dctk(self) -> Step:
        return self.key_change(self.new_vendor(krn=self.next_krn(), kt=3), krn=self.krn,
                               kt=3, order=(0,))[-1]

    def act_kct_wrong_key(self) -> Step:
        stranger = self.bench_vendor.with_key(STRANGER_KEY)
        return self.key_change(self.new_vendor(krn=self.next_krn()), krn=self.krn,
                               under=stranger, order=(0,),
                               label="key change made under another key")[-1]

    def act_kct_ken(self) -> Step:
        self.expire_key()
        return self.c.steps[-1]

    def act_power_cycle(self) -> Step:
        return self.c.do(PowerCycle(2.0))

    def act_lockout_start(self) -> Step:
        step = self.refuse_once()
        while self.model.items.refusals < int(self.profile.lockout.threshold):
            step = self.refuse_once()
        return step

    def act_lockout_end(self) -> Step:
        m = self.model
        until = m.items.locked_until if m.items.locked_until is not None else m.t
        return self.wait(until - m.t + 2 * m.edge_s)

    def act_earth_leak(self) -> Step:
        return self.c.do(EarthLeak())

    def act_overload_trip(self) -> Step:
        self.trip()
        return self.c.steps[-1]

    def act_overload_release(self) -> Step:
        m = self.model
        at = m.items.reconnect_at
        if at is None:
            return self.wait(2 * m.edge_s)
        # judged just inside the declared reconnection time and past it (the trip, so the
        # reconnection, may have come as late as the trip's own bracket)
        self.within(at - float(self.profile.overload.reconnect_s),
                    float(self.profile.overload.reconnect_s), m.items.trip_jitter)
        return self.c.steps[-1]

    def act_deplete(self) -> Step:
        """Credit runs out under load, timed by the model: the load is drawn while the relay
        is open for want of credit, then a credit token closes it at a time known to the key
        press; the relay is judged just before the earliest opening the metering class
        allows (still closed) and just after the latest (open). A meter that registers
        energy faster than drawn opens early; one whose credit falls slower than its energy
        register counts opens late (and its energy register then shows more than the credit
        given, judged by the cell)."""
        m = self.model
        watts = min(DEPLETE_W, float(self.profile.ratings.contracted_va))
        self.c.do(SetLoad(watts))
        step = self.token(self.current.credit(str(DEPLETE_KWH)).digits,
                          f"credit {DEPLETE_KWH} kWh with {watts:g} W drawn")
        c, rate, pct = m.items.credit[0], watts / 3.6e6, m._class_pct()
        above_low, above_high = c.low - m.threshold_kwh, c.high - m.threshold_kwh
        if m.items.relay_closed is not False and above_low > 0:
            self.within(m.t, above_low / (rate * (1 + pct)),
                        above_high / (rate * (1 - pct)) - above_low / (rate * (1 + pct)))
        self.c.do(SetLoad(0))
        return step

    def act_code_relay(self) -> Step:
        return self.c.do(EnterCode("01"))

    def act_code_info(self) -> Step:
        return self.c.do(EnterCode("41"))

    def act_code_alarm(self) -> Step:
        level = int(self.profile.alarm.low_credit_kwh)
        return self.c.do(EnterCode(f"456{(level + 5) % 100:02d}"))

    def act_half_typed(self) -> Step:
        token = self.current.credit("0.5")
        self.dut.keys(token.digits[:10], *FAST)
        self.wait(float(self.profile.tokens.entry_timeout_s) + 2 * self.model.edge_s)
        return self.token(token.digits, "the whole token after a half-typed one timed out")

    def act_idle(self) -> Step:
        p = self.profile
        longest = max(float(p.tokens.entry_timeout_s), float(p.lockout.cap_s),
                      float(p.relay.test_duration_s), float(p.overload.reconnect_s),
                      float(p.overload.window_s), float(p.alarm.repeat_min) * 60.0)
        return self.wait(longest + 10.0)


def _token_class(digits: str) -> int:
    """The class of a 20-digit token (3 for a class 3 number, which decodes to nothing)."""
    return (int(digits) >> 27) & 3
