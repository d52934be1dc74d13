"""Every declared number over its whole range, on both sides.

Each ladder step by step up to its cap and one past it (the lock-out: every length from the
first to the cap, one more refusal at the cap); each counter to its limit and one past (the
TID store depth, the overload trips in the window); each timer just inside and just outside
its declared end (lock-out lengths, trip delay, reconnection); each threshold at both edges
(maximum credit, low-credit alarm level, power limit, key expiry number). Every entry and
every fact read is judged by the reference model (rig/reference/reference_meter.py) at the
bench time it happened; each step is recorded with the declared value it tests.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest

import sts
from rig.reference import matrix as mx
from rig.reference.events import PowerCycle, SetLoad
from rig.reference.walker import Walker

RANGES = "declared values over their whole range"
QUICK_LADDER_S = 160.0  # the quick plan walks the lock-out ladder to here (bench s)
WALKERS: dict[str, Walker] = {}


@pytest.fixture
def walker(request, dut, vendor, profile, bench_config, load) -> Any:
    w = WALKERS.get(request.module.__name__)
    if w is None or w.c is None:
        mfr = sts.MeterPAN.parse(bench_config.meter.pan).mfr_code
        w = Walker(dut, vendor, profile, bench_config, load=load, mfr_code=mfr,
                   timer=optional_fixture(request, "relay_timer"))
        WALKERS[request.module.__name__] = w
        w.start()
    else:
        w.follow(dut)
    w.explore = request.config.getoption("explore", default=None)
    yield w
    w.home()


def optional_fixture(request: pytest.FixtureRequest, name: str) -> Any:
    """A bench capability some checks use, or None when the bench has none."""
    try:
        return request.getfixturevalue(name)
    except pytest.skip.Exception:
        return None


def request_explore(w: Walker) -> bool:
    """True in the long run (`rig run --explore N`): the lock-out ladder to its cap."""
    return bool(w.explore)


def judged(record: Any, w: Walker, name: str, step: Any) -> None:
    """An entry's outcome against the model's allowed outcomes."""
    ok = not step.deviations
    record(f"{name}: meter {step.outcome}, allowed "
           f"{step.allowed.describe() if step.allowed else 'any'}"
           + ("" if ok else " | DEVIATES: " + "; ".join(str(d) for d in step.deviations)),
           "PASS" if ok else "FAIL", nominal="PASS")
    step.deviations.clear()


def steps_judged(record: Any, w: Walker, name: str, since: int) -> None:
    """Every deviation the steps from `since` on met (relay reads inside and past a declared
    timer, timings, entry outcomes), as one line."""
    found = [d for s in w.c.steps[since:] for d in s.deviations]
    record(f"{name}" + (" | DEVIATES: " + "; ".join(map(str, found)) if found
                        else ": as the model allows"),
           "FAIL" if found else "PASS", nominal="PASS")
    for s in w.c.steps[since:]:
        s.deviations.clear()


def facts_judged(record: Any, w: Walker, name: str, names: tuple[str, ...]) -> None:
    offered = [n for n in names if w.dut.offers(n)]
    if not offered:
        record(f"{name}: skipped, the profile offers no {', '.join(names)}", "SKIP")
        return
    found = w.c.check(offered)
    values = {n: r.value for n, r in w.c.read([]).items()}
    record(f"{name}: {', '.join(offered)}" + (" | DEVIATES: " + "; ".join(map(str, found))
                                              if found else " as the model allows") + (
               f" {values}" if values else ""),
           "FAIL" if found else "PASS", nominal="PASS", fact=tuple(offered))
    if w.c.steps:
        w.c.steps[-1].deviations.clear()


@pytest.mark.clause(RANGES, "IEC 62055-41:2014 7.3.7 TID store", "declared: tokens.tid_store_depth")
def test_tid_store_every_depth(walker, profile, record):
    """Token A, then 1..depth newer tokens; after each, A again: USED while A is among the
    `depth` newest, OLD once `depth` newer ones pushed it out (one past the limit)."""
    w = walker
    w.ensure(mx.CREDITED)
    depth = int(profile.tokens.tid_store_depth)
    first = w.current.power_limit(0)
    judged(record, w, "token A (power limit 0)", w.token(first.digits, "token A"))
    for n in range(1, depth + 1):
        w.token(w.current.power_limit(0).digits, f"newer token {n}")
        want = "USED" if n < depth else "OLD"
        judged(record, w, f"{n} newer token(s) of {depth}: token A again (declared {want})",
               w.token(first.digits, "token A again"))


@pytest.mark.clause(RANGES, "SPLN D3.009-1:2010 wrong-token lock-out",
                    "declared: lockout.threshold, first_s, factor, cap_s")
def test_lockout_every_step_to_the_cap(walker, profile, record):
    """Refusals 1..threshold-1 lock nothing; from the threshold each lock-out is tried just
    inside its declared end (LOCKED) and just outside it (judged, starting the next, longer
    one), up to the cap and one refusal past it (still the cap)."""
    w = walker
    w.ensure(mx.CREDITED)
    lock, m = profile.lockout, w.model
    full = request_explore(w)
    quick_cap = float(lock.cap_s) if full else min(float(lock.cap_s), QUICK_LADDER_S)
    edge = 2 * m.edge_s
    typing = 2.5  # bench s from the call to ENTER; measured at the first refusal below
    for n in range(1, int(lock.threshold)):
        judged(record, w, f"refusal {n} of {lock.threshold}", w.refuse_once())
        judged(record, w, f"after refusal {n}: a valid token is judged",
               w.token(w.current.power_limit(0).digits, "power limit 0"))
        w.refuse_once() if n < int(lock.threshold) - 1 else None
    w.home()
    for _ in range(1, int(lock.threshold)):
        w.refuse_once()
    lengths = []
    refusals = int(lock.threshold) - 1
    while True:
        refusals += 1
        length = lock.duration(refusals)
        called = w.dut.now()
        step = w.refuse_once()
        # an entry first reads the meter's entry counter where it has one: ENTER comes
        # that much after the call (the waits below are from the bench clock, not the model's
        # time of the last entry, which the reading of its result has left behind)
        typing = max(typing, w.c.last_result.t_enter - called)
        judged(record, w, f"refusal {refusals}: starts a {length:g} s lock-out", step)
        start = m.items.locked_until - length if m.items.locked_until else m.t
        if start + length - edge - typing > w.dut.now():
            w.wait(start + length - edge - typing - w.dut.now())
            inside = w.refuse_once()
            judged(record, w, f"lock-out {length:g} s: a token {start + length - m.t:.1f} s "
                              "before its declared end (LOCKED)", inside)
        else:  # a token typed now would come past the end and start the next lock-out
            record(f"lock-out {length:g} s: no token inside it (reading the last result and "
                   f"typing the next take {w.dut.now() - start + typing:.1f} s here)", "SKIP")
        w.wait(max(0.0, start + length + edge - w.dut.now()))
        lengths.append(length)
        if length >= float(lock.cap_s) and lengths.count(length) >= 2:
            break
        if length >= quick_cap and not full:
            record(f"lock-out ladder walked to {length:g} s in the quick plan; to the "
                   f"{lock.cap_s:g} s cap and past it with `rig run --explore N`", "SKIP")
            break
        if len(lengths) > 40:
            break
    record("lock-out lengths walked (s)", ", ".join(f"{x:g}" for x in lengths))
    w.c.do(PowerCycle(2.0)) if lock.reset_on_power_cycle else None
    w.home()


@pytest.mark.clause(RANGES, "IEC 62055-41:2014 6.3.9 SetMaximumPowerLimit",
                    "declared: overload.trip_delay_s, reconnect_s, max_trips, window_s")
def test_overload_trips_to_the_limit(walker, profile, record):
    """A trip, then a power cycle, which ends the window the trip started; then trips
    1..max_trips inside a new window: each just inside the trip delay (closed) and
    just outside (open, counted), just inside the reconnection (open) and outside (closed);
    the max_trips-th stays open past the reconnection time until a token; one more trip
    after the release is counted (one past the limit); an accepted token in the first
    reconnection wait does not reconnect early. The load stays on throughout and a
    power limit token below it starts the first overload, so every timer starts at a time
    the model knows to the key press (the token's ENTER, then each reconnection and the
    releasing token), not somewhere inside a load command's bracket."""
    w = walker
    w.ensure(mx.CREDITED)
    ov, m = profile.overload, w.model
    delay, reconnect = float(ov.trip_delay_s), float(ov.reconnect_s)
    w.c.do(PowerCycle(2.0))  # the trip window is volatile: trips of earlier plans leave it
    w.c.do(SetLoad(1500))
    # one trip, then a power cycle: the window that trip started ends with the supply, so the
    # ladder below starts from none (a meter that kept it stays open one trip early)
    since = len(w.c.steps)
    w.limit_under_load(1000)
    w.token(w.current.power_limit(0).digits, "power limit 0 (none)")
    w.c.do(PowerCycle(2.0))
    steps_judged(record, w, "a trip before a power cycle: relay just inside the trip delay "
                            "(closed) and just past it (open)", since)
    facts_judged(record, w, "a trip, then a power cycle: the relay closed again",
                 ("relay_closed", "overload_trips"))
    by_token = True  # the first overload, and the one after the releasing token
    for trip in range(1, int(ov.max_trips) + 2):
        since = len(w.c.steps)
        if by_token:
            w.limit_under_load(1000)
        else:  # the reconnection closed the relay on the load: the overload restarts
            w.within(m.items.over_since, delay, m.items.over_jitter)
        steps_judged(record, w, f"trip {trip}: relay just inside the {delay:g} s trip delay "
                                "(closed) and just past it (open)", since)
        facts_judged(record, w, f"trip {trip}: past the trip delay",
                     ("relay_reason", "overload_trips"))
        by_token = m.items.reconnect_at is None
        if by_token:  # the last trip in the window: open until a token (the next trip's)
            w.wait(max(0.0, m.items.trip_times[-1] + reconnect + m.items.trip_jitter
                       + 2 * m.edge_s - w.dut.now()))
            facts_judged(record, w, f"trip {trip} (the {ov.max_trips:g}th in the window): "
                                    "still open past the reconnection time", ("relay_closed",))
            continue
        if trip == 1:  # an accepted token while the reconnection is pending releases nothing
            judged(record, w, "credit token in the reconnection wait",
                   w.token(w.current.credit("0.1").digits, "credit 0.1 kWh"))
        since = len(w.c.steps)
        w.within(m.items.reconnect_at - reconnect, reconnect, m.items.trip_jitter)
        steps_judged(record, w, f"trip {trip}: relay just inside the {reconnect:g} s "
                                "reconnection (open) and just past it (closed)", since)
    w.c.do(SetLoad(0))
    facts_judged(record, w, "load off: trips counted", ("overload_trips",))


@pytest.mark.clause(RANGES, "IEC 62055-41:2014 6.3.9 SetMaximumPowerLimit",
                    "declared: overload.trip_delay_s")
def test_power_limit_both_edges(walker, profile, record):
    """Under a 1000 W limit, 975 W for twice the trip delay trips nothing, 1025 W trips."""
    w = walker
    w.ensure(mx.CREDITED)
    ov = profile.overload
    w.token(w.current.power_limit(1000).digits, "power limit 1000 W")
    for watts in (975, 1025):  # 97.5 % and 102.5 %: the load's accuracy is well inside
        w.c.do(SetLoad(watts))
        w.wait(2 * float(ov.trip_delay_s))
        facts_judged(record, w, f"{watts} W under a 1000 W limit, {2 * ov.trip_delay_s:g} s",
                     ("relay_closed", "overload_trips"))
        w.c.do(SetLoad(0))
    # the teardown's home() waits for the reconnection the model knows is due


@pytest.mark.clause(RANGES, "SPLN D3.009-1:2010 maximum credit (OVER)",
                    "declared: tokens.max_credit_kwh, alarm.low_credit_kwh")
def test_credit_thresholds_both_edges(walker, profile, record):
    """Maximum credit: 0.2 kWh below it accepted, 0.2 past it OVER; the low-credit alarm
    0.5 kWh above its level off and 0.5 below it on."""
    w = walker
    w.ensure(mx.EXHAUSTED)
    top = Decimal(str(profile.tokens.max_credit_kwh))
    judged(record, w, f"credit to {top - Decimal('0.2')} kWh (max {top})",
           w.token(w.current.credit(str(top - Decimal("0.2"))).digits, "credit to max - 0.2"))
    judged(record, w, "0.4 kWh more (0.2 past the maximum): OVERFLOW",
           w.token(w.current.credit("0.4").digits, "credit 0.4 kWh"))
    judged(record, w, "0.1 kWh more (0.1 below the maximum)",
           w.token(w.current.credit("0.1").digits, "credit 0.1 kWh"))
    level = Decimal(str(profile.alarm.low_credit_kwh))
    for credit in (level + Decimal("0.5"), level - Decimal("0.5")):
        w.token(w.current.clear_credit(0).digits, "clear credit")
        w.token(w.current.credit(str(credit)).digits, f"credit {credit} kWh")
        facts_judged(record, w, f"credit {credit} kWh, alarm level {level} kWh",
                     ("low_credit_alarm", "credit"))


@pytest.mark.clause(RANGES, "IEC 62055-41:2014 7.3.7 KeyExpiredError",
                    "IEC 62055-41:2014 6.3.14 KENHO/KENLO")
def test_key_expiry_both_edges(walker, record):
    """A KEN equal to today's TID high byte lets today's tokens in; one below refuses them."""
    w = walker
    w.ensure(mx.CREDITED)
    probe = w.current.credit("0.1")
    w.token(probe.digits, "credit 0.1 kWh (today's TID)")
    high = probe.fields["tid"] >> 16
    for ken, name in ((high, "KEN = today's TID high byte"), (high - 1, "KEN one below")):
        target = w.new_vendor(krn=w.next_krn())
        w.key_change(target, krn=w.krn, ken=ken)
        judged(record, w, f"{name} ({ken}): credit token",
               w.token(w.current.credit("0.1").digits, "credit 0.1 kWh"))
