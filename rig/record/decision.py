"""The decision rule a statement of conformity applies (ILAC G8:09/2019, ISO/IEC 17025 7.8.6).

Simple acceptance (guard band w = 0): a value inside its limits passes, outside fails; a
value within U of a limit is still a PASS or FAIL, and the report says it is that close
(the risk of a wrong decision there can reach 50 %). Guarded acceptance (w = U): a PASS needs
value ± U inside the limits and a FAIL needs value ± U outside them; in between the result
is a CONDITIONAL PASS (inside the limits) or a CONDITIONAL FAIL (outside), not a clear one.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

SIMPLE, GUARDED = "simple", "guarded"
#: for one measurement, where the bench's U is large beside the tolerance: a FAIL only when
#: the value lies outside the limits by more than U (ISO 14253-1:2017 rule for proving
#: non-conformity); within U of a limit the result is CONDITIONAL and the test does not fail
PROVEN = "proven"
RULES = {
    SIMPLE: "simple acceptance (ILAC G8:09/2019 4.2.1, guard band w = 0): PASS when the "
            "measured value lies within the limits, FAIL otherwise; a value within U of a "
            "limit is marked, since the risk of a wrong decision there can reach 50 %",
    GUARDED: "guarded acceptance (ILAC G8:09/2019 4.2.2, guard band w = U, k = 2): PASS only "
             "when value ± U lies within the limits, FAIL only when value ± U lies outside "
             "them; in between the result is reported as CONDITIONAL PASS or CONDITIONAL "
             "FAIL",
    PROVEN: "non-conformity proven (ISO 14253-1:2017, for this measurement): FAIL only when "
            "value ± U lies outside the limits; a value outside them by less than U is a "
            "CONDITIONAL FAIL, which fails no test and leaves the run NOT CONCLUDED; inside "
            "the limits as simple acceptance",
}
CONDITIONAL_PASS, CONDITIONAL_FAIL = "CONDITIONAL PASS", "CONDITIONAL FAIL"


class UnknownDecisionRule(ValueError):
    """A decision rule the report does not know (known: simple, guarded)."""


@dataclass(frozen=True)
class Decision:
    """The verdict under the rule, and whether the value lies within U of a limit."""

    verdict: str
    near_limit: bool


def rule_text(rule: str) -> str:
    try:
        return RULES[rule]
    except KeyError:
        raise UnknownDecisionRule(f"decision rule {rule!r} is not known (known: "
                                  f"{', '.join(RULES)})") from None


def _number(value: Any) -> float | None:
    if isinstance(value, bool) or value is None:
        return None
    try:
        return float(value)
    except (TypeError, ValueError):
        return None


def decide(value: Any, low: Any, high: Any, uncertainty: float | None, verdict: str,
           rule: str = SIMPLE, *, bound: str | None = "") -> Decision:
    """The verdict of one measurement under `rule`; `verdict` is the simple one (recorded).
    A `bound` (rig.record.run_record.judge_bound) is judged by its own verdict, the bound
    standing for the value at the limit it lies near: a lower bound within U of the high
    limit is a CONDITIONAL FAIL under the guarded and proven rules; a NOT CONCLUSIVE bound
    stays so under every rule."""
    rule_text(rule)
    x, lo, hi = _number(value), _number(low), _number(high)
    if x is None or uncertainty is None or (lo is None and hi is None):
        return Decision(verdict, False)
    u = abs(float(uncertainty))
    near = any(limit is not None and abs(x - limit) <= u for limit in (lo, hi))
    if bound:  # the verdict already says which side every allowed value lies on
        if rule == SIMPLE or not near or verdict not in ("PASS", "FAIL"):
            return Decision(verdict, near)
        if rule == PROVEN and verdict == "PASS":
            return Decision(verdict, True)
        return Decision(CONDITIONAL_PASS if verdict == "PASS" else CONDITIONAL_FAIL, True)
    if rule == SIMPLE or not near:
        return Decision(verdict, near)
    inside = (lo is None or x >= lo) and (hi is None or x <= hi)
    if rule == PROVEN and inside:  # inside stays a PASS (marked); only a FAIL needs proof
        return Decision(verdict, True)
    return Decision(CONDITIONAL_PASS if inside else CONDITIONAL_FAIL, True)
