"""Model-based exploration: random sequences of events against the reference model.

A hypothesis rule-based state machine drives the meter on the bench through random
sequences (credit, management and test tokens valid and invalid, key changes, power cycles,
load and voltage changes inside the meter's ratings, earth-leakage tamper, short codes,
waits across the declared timers). After every step every fact the profile offers is read
and judged against the reference model (rig/reference/reference_meter.py). A deviation is shrunk by
hypothesis to the shortest sequence that still shows it; the report lists that sequence as
numbered steps a technician can repeat by hand, and the seed that replays it:
`rig run --explore N testplans/test_explore.py --hypothesis-seed=SEED`.

Off by default: `rig run --explore BENCH_SECONDS` gives the bench-time budget (the budget
gates new sequences; once a deviation is found, shrinking may take more).
"""

from __future__ import annotations

import random
from typing import Any

import pytest

import sts
from rig.record.measures import not_applicable
from rig.reference import matrix as mx
from rig.reference.events import EarthLeak, EnterCode, PowerCycle, SetLoad, SetVoltage, Wait
from rig.reference.walker import Walker

EXPLORE = "model-based exploration against the reference model (IEC 62055-41, SPLN D3.009-1)"


RULES: set[str] = set()  # the machine's rule names (no-ops once the budget is used up)


@pytest.mark.clause(EXPLORE, "declared: every profile value the reference model uses")
def test_explore(request, dut, vendor, profile, bench_config, load, record):
    budget = request.config.getoption("explore", default=None)
    if not budget:
        not_applicable("model-based exploration is off in the quick plan: run it with "
                       "`rig run --explore BENCH_SECONDS` (a bench-time budget)")
    hypothesis = pytest.importorskip("hypothesis")
    from hypothesis import HealthCheck, Phase, settings
    from hypothesis import strategies as st
    from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, rule

    try:
        switch = request.getfixturevalue("switch")
    except pytest.skip.Exception:
        switch = None
    mfr = sts.MeterPAN.parse(bench_config.meter.pan).mfr_code
    walker = Walker(dut, vendor, profile, bench_config, load=load, switch=switch, mfr_code=mfr)
    walker.start()
    c = walker.c
    start = dut.now()
    seed = request.config.getoption("hypothesis_seed", default=None)
    seed = int(seed) if seed not in (None, "") else random.SystemRandom().randrange(2 ** 32)
    runs = {"examples": 0, "steps": 0, "failed": False}
    ratings, ov = profile.ratings, profile.overload
    watts_max = min(float(ratings.contracted_va), ratings.voltage_v * ratings.max_current_a)
    volts = (round(ratings.voltage_v * 0.9, 1), ratings.voltage_v,
             round(ratings.voltage_v * 1.1, 1))
    waits = sorted({5.0, float(profile.tokens.entry_timeout_s) + 2,
                    float(ov.trip_delay_s) + 5, float(ov.reconnect_s) + 5,
                    float(profile.relay.test_duration_s) + 2})

    def spent() -> bool:
        return not runs["failed"] and dut.now() - start > budget

    class Meter(RuleBasedStateMachine):
        """The bench meter and the reference model, one event at a time."""

        def __init__(self) -> None:
            super().__init__()
            self.off = spent()  # the budget is used up: this sequence does nothing

        def __getattribute__(self, name: str) -> Any:
            value = object.__getattribute__(self, name)
            if name in RULES and object.__getattribute__(self, "off"):
                return lambda *a, **k: None
            return value

        @initialize()
        def begin(self) -> None:
            if self.off:
                return
            runs["examples"] += 1
            walker.follow(dut)
            walker.resync()
            walker.ensure(mx.CREDITED)
            walker.resync()
            self.first = len(c.steps)

        @invariant()
        def facts_as_a_compliant_meter(self) -> None:
            if self.off or not hasattr(self, "first"):
                return
            runs["steps"] += 1
            found = [d for s in c.steps[self.first:] for d in s.deviations]
            found += c.check()
            if found:
                runs["failed"] = True
                steps = "\n".join(self.replay())
                raise AssertionError(f"{found[0]}\nsteps (from a credited meter, "
                                     f"hypothesis seed {seed}):\n{steps}")

        def replay(self) -> list[str]:
            return [f"{n}. {s.text}" + (f" -> meter: {s.outcome}" if s.outcome else "")
                    for n, s in enumerate(c.steps[self.first:], 1)]

        @rule(amount=st.sampled_from(["0.1", "1", "5", "20"]))
        def credit(self, amount: str) -> None:
            walker.token(walker.current.credit(amount).digits, f"credit {amount} kWh")

        @rule()
        def replay_last_credit(self) -> None:
            walker.act_credit_used()

        @rule()
        def credit_under_another_key(self) -> None:
            walker.act_credit_wrong_key()

        @rule(subclass=st.sampled_from([1, 2, 3]))
        def credit_not_declared(self, subclass: int) -> None:
            if subclass not in profile.tokens.credit_subclasses:
                walker._sub(subclass)

        @rule(watts=st.sampled_from([0, 500, 1000, 3000]))
        def power_limit(self, watts: int) -> None:
            walker.token(walker.current.power_limit(watts).digits, f"power limit {watts} W")

        @rule()
        def clear_credit(self) -> None:
            walker.act_clear_credit()

        @rule()
        def clear_tamper(self) -> None:
            walker.act_clear_tamper()

        @rule(control=st.sampled_from([0x1, 0x2, 0x4, (1 << 36) - 1]))
        def test_token(self, control: int) -> None:
            walker.token(sts.test_token(control).digits, f"test token, control {control:#x}")

        @rule()
        def test_token_other_maker(self) -> None:
            walker.act_test_wrong_mfr()

        @rule(rollover=st.booleans())
        def key_change(self, rollover: bool) -> None:
            if rollover:
                walker.act_kct_rollover()
            else:
                walker.act_kct_krn()

        @rule()
        def key_change_refused(self) -> None:
            walker.act_kct_ditk()

        @rule()
        def power_cycle(self) -> None:
            c.do(PowerCycle(2.0))

        @rule(fraction=st.sampled_from([0.0, 0.15, 0.6, 1.0]))
        def load(self, fraction: float) -> None:
            c.do(SetLoad(round(watts_max * fraction)))

        @rule(v=st.sampled_from(volts))
        def voltage(self, v: float) -> None:
            c.source = c.source or dut.bench.instrument("source")
            c.do(SetVoltage(v))

        @rule()
        def earth_leak(self) -> None:
            c.do(EarthLeak())

        @rule(code=st.sampled_from(["01", "41", "45620", "07"]))
        def short_code(self, code: str) -> None:
            c.do(EnterCode(code))

        @rule(seconds=st.sampled_from(waits))
        def wait(self, seconds: float) -> None:
            c.do(Wait(seconds))

        def teardown(self) -> None:
            if c.model.items.load_w:
                c.do(SetLoad(0))
            if c.model.items.voltage_v != ratings.voltage_v and c.source is not None:
                c.do(SetVoltage(ratings.voltage_v))

    global RULES
    RULES = {n for n, v in vars(Meter).items() if callable(v) and not n.startswith("_")
             and n not in ("replay", "facts_as_a_compliant_meter", "teardown")}
    steps = 10
    per_step = 0.9 * dut.speed + sum(waits) / len(waits) / 4  # reads, entries, some waits
    examples = max(1, int(budget / (per_step * steps)) + 1)
    test = _machine_test(Meter, settings(
        max_examples=examples, stateful_step_count=steps, deadline=None, database=None,
        phases=(Phase.generate, Phase.shrink), print_blob=False,
        suppress_health_check=list(HealthCheck)), hypothesis, seed)
    try:
        test()
    except AssertionError as exc:
        record(f"deviation found, shrunk (hypothesis seed {seed}); replay with "
               f"`rig run --explore {budget:g} testplans/test_explore.py "
               f"--hypothesis-seed={seed}`", "FAIL", nominal="PASS")
        for line in str(exc).splitlines():
            record(f"shrunk sequence: {line}", "see above")
        raise
    finally:
        with _suppressed():
            walker.home()
    used = dut.now() - start
    record(f"sequences explored (hypothesis seed {seed})", runs["examples"])
    record("steps judged against the reference model", runs["steps"] or len(c.steps))
    record("bench time used", round(used, 1), "s")
    record("no deviation from the reference model", "PASS", nominal="PASS")


def _machine_test(machine: Any, config: Any, hypothesis: Any, seed: int) -> Any:
    """The state machine as a hypothesis test, seeded (so `--hypothesis-seed` replays it)."""
    from hypothesis.stateful import get_state_machine_test

    test = get_state_machine_test(machine, settings=config)
    return hypothesis.seed(seed)(test)


class _suppressed:
    def __enter__(self) -> None:
        return None

    def __exit__(self, *exc: object) -> bool:
        return True
