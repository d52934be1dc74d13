"""Uncertainty budgets (GUM), the decision rules (ILAC G8) and the record's new fields.

Known answers worked out by hand: 34461A AC volts at 230.1 V on the 750 V range,
a = 0.0006 · 230.1 + 0.0003 · 750 = 0.36306 V, u = a/√3 = 0.209613 V; with the meter's
0.1 V digit (0.05/√3 = 0.028868 V) u_c = 0.211591 V and U = 0.423183 V.
"""

from __future__ import annotations

import dataclasses
import math

import pytest

from rig.record.decision import CONDITIONAL_FAIL, CONDITIONAL_PASS, UnknownDecisionRule, decide
from rig.record.run_record import Recorder, measurement_line
from rig.record.uncertainty import (
    SPECS,
    UnknownSpecification,
    evaluate,
    model_of,
    pick_range,
    specification,
    two_figures,
)


def test_dmm_ac_volts_budget():
    u = evaluate("keysight-34461a", "ac_voltage", 230.1, display_resolution=0.1)
    assert u.range == 750.0
    assert u.u_instrument == pytest.approx(0.36306 / math.sqrt(3))
    assert u.u_display == pytest.approx(0.05 / math.sqrt(3))
    assert u.u_combined == pytest.approx(0.211591, abs=1e-6)
    assert u.expanded == pytest.approx(0.423183, abs=1e-6) and u.k == 2.0
    assert two_figures(u.expanded) == 0.42


def test_autorange_picks_the_smallest_range_that_holds_the_value():
    # the Chroma driver selects the 300 V range at bring-up (a fixed range); autorange is
    # checked on its range set without that
    assert specification("chroma-61500", "ac_voltage").fixed_range == 300.0
    spec = dataclasses.replace(specification("chroma-61500", "ac_voltage"), fixed_range=None)
    assert pick_range(spec, 120.0) == 150.0 and pick_range(spec, 230.0) == 300.0
    assert pick_range(spec, 400.0) == 300.0  # above the top range: the top one
    u = evaluate("chroma-61500", "ac_voltage", 230.0)
    assert u.expanded == pytest.approx(2 * (0.46 + 0.6) / math.sqrt(3))


def test_scope_time_interval_on_its_screen_width():
    u = evaluate("keysight-infiniivision", "time_interval", 0.0399, range_=0.1)
    a = 0.0399 * 0.00021 / 100 + 0.1 * 0.16 / 100
    assert u.expanded == pytest.approx(2 * a / math.sqrt(3))
    assert two_figures(u.expanded) == 0.00018


def test_every_bench_model_declares_its_functions():
    from drivers.instruments import MODELS

    for models in MODELS.values():
        for name in models:
            assert name in SPECS, name
    with pytest.raises(UnknownSpecification, match="'keysight-34461a', function 'power'"):
        specification("keysight-34461a", "power")


def test_model_of_a_driver_is_its_bench_file_name():
    from drivers.instruments import Keysight34461A, Scope

    assert model_of(object.__new__(Keysight34461A)) == "keysight-34461a"
    assert model_of(object.__new__(Scope), "scope") == "generic"
    assert model_of("chroma-63800") == "chroma-63800"
    with pytest.raises(UnknownSpecification, match="int is not an instrument model"):
        model_of(3)


@pytest.mark.parametrize(("value", "simple", "guarded", "near"), [
    (4.000, "PASS", "PASS", False),            # 0.04 A from both limits, U = 0.015
    (4.030, "PASS", CONDITIONAL_PASS, True),   # 0.010 A inside the high limit
    (4.050, "FAIL", CONDITIONAL_FAIL, True),   # 0.010 A outside it
    (4.060, "FAIL", "FAIL", False),            # 0.020 A outside: a clear FAIL
    (3.950, "FAIL", CONDITIONAL_FAIL, True),
])
def test_decision_rules(value, simple, guarded, near):
    verdict = "PASS" if 3.96 <= value <= 4.04 else "FAIL"
    assert decide(value, 3.96, 4.04, 0.015, verdict, "simple").verdict == simple
    got = decide(value, 3.96, 4.04, 0.015, verdict, "guarded")
    assert (got.verdict, got.near_limit) == (guarded, near)


def test_decision_without_u_or_limits_keeps_the_recorded_verdict():
    assert decide("ACCEPT", None, None, None, "PASS", "guarded").verdict == "PASS"
    assert decide(4.05, 3.96, 4.04, None, "FAIL", "guarded").verdict == "FAIL"
    with pytest.raises(UnknownDecisionRule, match="'lenient' is not known"):
        decide(1.0, 0, 2, 0.1, "PASS", "lenient")


def test_recorder_keeps_reference_and_uncertainty_in_the_line():
    sent = []
    record = Recorder("t::x", sent.append)
    m = record("voltage shown", 230.4, "V", 227.799, 232.401, reference=230.1,
               instrument="keysight-34461a", function="ac_voltage", display_resolution=0.1)
    line = measurement_line(m)
    assert line["reference"] == 230.1 and line["verdict"] == "PASS"
    assert line["uncertainty"]["U"] == pytest.approx(0.423183, abs=1e-6)
    assert line["uncertainty"]["model"] == "keysight-34461a" and sent == [m]
    plain = measurement_line(record("outcome", "ACCEPT", nominal="ACCEPT"))
    assert plain["uncertainty"] is None and plain["reference"] is None
    with pytest.raises(ValueError, match="an instrument needs its function"):
        record("v", 1.0, "V", instrument="generic")


def test_relay_edge_plot_marks_the_measured_interval():
    from rig.record.plots import relay_edge_figure, relay_edge_plot

    times = [i / 1000 - 0.05 for i in range(100)]
    volts = [325.0 if t < 0 else 0.0 for t in times]
    ax = relay_edge_figure(times, volts, measured_s=0.0312, limit_s=0.1).axes[0]
    labels = ax.get_legend_handles_labels()[1]
    assert "measured operate time 31.2 ms (limit 100 ms)" in labels and "relay command" in labels
    span = next(p for p in ax.patches if p.get_label().startswith("measured"))
    x0, x1 = span.get_x(), span.get_x() + span.get_width()
    assert (x0, x1) == pytest.approx((-31.2, 0.0))
    bare = relay_edge_figure(times, volts).axes[0]
    assert not [p for p in bare.patches if p.get_label().startswith("measured")]
    assert relay_edge_plot(times, volts, measured_s=0.0312)[:8] == b"\x89PNG\r\n\x1a\n"
