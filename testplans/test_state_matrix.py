"""The state-by-event matrix (rig/reference/matrix.py), walked on the bench.

Each test is one row (an event) in one meter state: the meter is put in the state, the
event is done, and every persistent item is judged twice: against the matrix's rule for the
cell (kept, set, cleared, counted...) and against what the reference model of a compliant
meter allows (rig/reference/reference_meter.py). One line per cell: "state | event | item: rule".
The TID store is probed by replaying the store's newest TID under the meter's key (it must
be USED, or accepted after a rollover key change). Every setup step is judged by the model
too. A fact the profile does not offer is recorded as not offered, naming the fact.
"""

from __future__ import annotations

import contextlib
from typing import Any

import pytest

import sts
from rig.reference import matrix as mx
from rig.reference.conductor import outcome_admitted
from rig.reference.expectation import Allowed
from rig.reference.walker import Walker

STATE_ORDER = (mx.CREDITED, mx.LOW, mx.EXHAUSTED, mx.TRIPPED, mx.TAMPERED, mx.LOCKED, mx.DDTK,
               mx.EXPIRED)


def _id(row: mx.Row, state: str) -> str:
    return f"{state}-{row.action}-{row.outcome or 'event'}".replace(" ", "_")


def cases(full: bool) -> list[Any]:
    """Every (row, state) cell group; the quick plan walks each row in its first state and
    every state at least once, the full matrix (`rig run --explore N`) every state listed."""
    chosen = [(row, state) for row in mx.ROWS if full or row.quick
              for state in (row.states if full else row.states[:1])]
    if not full:
        for state in STATE_ORDER:
            if not any(s == state for _, s in chosen):
                chosen += [(row, s) for row in mx.ROWS for s in row.states[1:2] if s == state]
    chosen.sort(key=lambda rs: STATE_ORDER.index(rs[1]))
    return [pytest.param(row, state, id=_id(row, state),
                         marks=pytest.mark.clause(row.clause or "state-by-event matrix",
                                                  "rig/reference/matrix.py"))
            for row, state in chosen]


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    if {"row", "state"} <= set(metafunc.fixturenames):
        full = bool(metafunc.config.getoption("explore", default=None))
        metafunc.parametrize(("row", "state"), cases(full))


WALKER: dict[str, Walker] = {}
# rows whose entries carry no TID the meter could read (a CRC or format refusal, a class 1
# token, a short code) or that happen while locked: their TID store cell is judged by the
# next probe, not by one of its own
NOT_PROBED = ("credit_wrong_key", "credit_other_meter", "test_", "class3", "code_",
              "lockout_", "earth_leak")


@pytest.fixture(scope="module")
def _walkers():
    WALKER.clear()
    yield WALKER
    walker = WALKER.get("w")
    if walker is not None and walker.c is not None:
        with contextlib.suppress(Exception):  # a meter that deviates is already failed
            walker.home()  # the bench key, no limit, no tamper, for the plans that follow
    WALKER.clear()


def optional(request: pytest.FixtureRequest, name: str) -> Any:
    """A bench device some cells use, or None when the bench has none."""
    try:
        return request.getfixturevalue(name)
    except pytest.skip.Exception:
        return None


@pytest.fixture
def walker(request, _walkers, dut, vendor, profile, bench_config, load) -> Walker:
    w = _walkers.get("w")
    if w is None:
        mfr = sts.MeterPAN.parse(bench_config.meter.pan).mfr_code
        w = Walker(dut, vendor, profile, bench_config, load=load,
                   scope=optional(request, "scope"), switch=optional(request, "switch"),
                   timer=optional(request, "relay_timer"), mfr_code=mfr)
        _walkers["w"] = w
        w.start()
    else:
        w.follow(dut)
    return w


def rule_holds(rule: str, fact: str, before: Allowed, after: Any) -> bool:
    """The matrix's rule for one fact of a cell, against the model's value before."""
    if rule == mx.KEPT or (rule == mx.CLEARED and fact == "tamper_events") \
            or (rule == mx.PULSED and fact == "relay_closed"):
        return before.admits(after)
    if rule == mx.COUNTED and fact not in ("tamper_events",):
        single = before.values is not None and len(before.values) == 1
        return not single or float(after) == float(next(iter(before.values))) + 1
    if rule in (mx.CLEARED, mx.RESET):
        return float(after) == 0.0
    if rule == mx.OPENED and fact == "relay_closed":
        return int(after) == 0
    if rule == mx.CLOSED and fact == "relay_closed":
        return int(after) == 1
    return True  # SET, FOLLOWS: the reference model's value decides


def test_cell(row, state, walker, profile, record):
    w = walker
    steps_before = len(w.c.steps)
    w.ensure(state)
    model = w.model
    before = model.expected(model.t)
    tid_before = max(model.items.tids) if model.items.tids else None
    judged_steps = set()
    threshold = int(profile.lockout.threshold)
    cell = f"{state} | {row.event}"
    for i, action in enumerate(row.actions):
        if i and model.items.refusals >= threshold - 1:  # no lock-out inside a group
            w.token(w.current.power_limit(int(model.items.power_limit_w)).digits,
                    "an accepted token ends the refusal count")
        step = w.act(action)
        judged_steps.add(id(step))
        record_outcome(record, cell, action, row.outcome_of(i), step, w)
    setup_deviations = [d for s in w.c.steps[steps_before:] for d in s.deviations
                        if id(s) not in judged_steps or d.fact != "outcome"]
    judged = w.c.judge(w.c.read())
    for item, facts in mx.ITEMS.items():
        if facts == ("tid_store",):
            continue
        rule = row.rule(item)
        shown, broken, missing = [], [], []
        for fact in facts:
            if fact not in judged:
                missing.append(fact)
                continue
            reading, allowed = judged[fact]
            by_rule = rule_holds(rule, fact, before.get(fact, Allowed.anything()),
                                 reading.value)
            shown.append(f"{fact} {reading.value!r}")
            if not (allowed.admits(reading.value) and by_rule):
                broken.append(f"{fact} {reading.value!r}{reading.how}: allowed "
                              f"{allowed.describe()} ({allowed.why})"
                              + ("" if by_rule else f", matrix rule {rule} broken"))
        if missing and not shown:
            record(f"{cell} | {item}: {rule} | skipped: the profile offers no "
                   f"{', '.join(missing)}", "SKIP")
            continue
        text = f"{cell} | {item}: {rule} | " + "; ".join(shown)
        if missing:
            text += f" (not offered: {', '.join(missing)})"
        if broken:
            text += " | DEVIATES: " + "; ".join(broken)
        record(text, "FAIL" if broken else "PASS", nominal="PASS",
               fact=tuple(f for f in facts if f in judged))
    probe_tid_store(w, row, cell, tid_before, record)
    for d in setup_deviations:
        record(f"{cell} | setup step deviated: {d}", "FAIL", nominal="PASS")


def record_outcome(record: Any, cell: str, action: str, declared: str | None, step: Any,
                   w: Walker) -> None:
    """The entry's outcome against the matrix's declared one and the model's allowed set."""
    if step.allowed is None:
        return
    if declared not in (None, "declared", "either"):
        want = Allowed.exactly(declared)
        ok = w.c.last_result is not None and outcome_admitted(w.c.last_result, want)
        record(f"{cell} | {action} outcome: {declared} (matrix) = {step.outcome}",
               "PASS" if ok else "FAIL", nominal="PASS")
    bad = [d for d in step.deviations if d.fact == "outcome"]
    record(f"{cell} | {action} outcome allowed by the model: {step.allowed.describe()} "
           f"({step.allowed.why}) = {step.outcome}", "FAIL" if bad else "PASS",
           nominal="PASS")


def probe_tid_store(w: Walker, row: mx.Row, cell: str, tid_before: int | None,
                    record: Any) -> None:
    """Replay the newest TID of the store (or, after a rollover, the one before it) under
    the meter's key as a power limit token: USED while the TID is stored, accepted when
    the store was cleared."""
    model = w.model
    rule = row.rule("TID store")
    if any(row.action.startswith(p) for p in NOT_PROBED):
        record(f"{cell} | TID store: {rule} | not probed here (no TID the meter could read "
               "was entered: the next row's probe covers it)", "SKIP")
        return
    tid = max(model.items.tids) if model.items.tids else tid_before
    if tid is None:
        record(f"{cell} | TID store: {rule} | no TID stored yet to probe", "SKIP")
        return
    if model._locked() is not False:
        record(f"{cell} | TID store: {rule} | not probed (the keypad is locked out)", "SKIP")
        return
    limit = model.items.power_limit_w
    probe = w.current.power_limit(int(limit), tid=tid)
    step = w.token(probe.digits, f"power limit {limit:g} W with TID {tid} (TID store probe)")
    want = {mx.CLEARED: {"ACCEPT"}}.get(rule, {"USED", "KEY_EXPIRED"})
    ok = not step.deviations and bool(
        step.allowed is not None and set(step.allowed.values or ()) & want)
    record(f"{cell} | TID store: {rule} | replay of TID {tid} = {step.outcome} (allowed "
           f"{step.allowed.describe() if step.allowed else '?'})",
           "PASS" if ok else "FAIL", nominal="PASS")
