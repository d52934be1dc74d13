"""The plugin stays out of a session that is not a plan run: no bench, no reports."""

from __future__ import annotations

import pytest
from plugin_support import run_plan

pytest_plugins = ["pytester"]


@pytest.fixture
def no_bench(monkeypatch):
    import rig.bench.devices

    def refuse(*args, **kwargs):
        raise AssertionError("the bench was opened")

    monkeypatch.setattr(rig.bench.devices, "open_bench", refuse)


def test_plain_tests_with_fixtures_of_the_same_name(pytester, no_bench):
    # a project's own `profile` and `record` fixtures are not the rig's
    pytester.makeconftest('''
import pytest

@pytest.fixture
def profile():
    return "mine"

@pytest.fixture
def record():
    return []
''')
    pytester.makepyfile(test_plain='''
def test_uses_own_fixtures(profile, record):
    assert profile == "mine" and record == []

def test_nothing():
    pass
''')
    result = run_plan(pytester)
    result.assert_outcomes(passed=2)
    assert not (pytester.path / "reports").exists()
    assert "STS Rig" not in result.stdout.str()


def test_html_of_a_plain_session_has_no_rig_sections(pytester, no_bench):
    pytester.makepyfile(test_plain="def test_nothing():\n    pass\n")
    result = run_plan(pytester, "--html=out/report.html", "--self-contained-html")
    result.assert_outcomes(passed=1)
    html = (pytester.path / "out" / "report.html").read_text()
    assert "Bench identity" not in html and "clause-matrix" not in html
    assert not (pytester.path / "reports").exists()


def test_collect_only_of_a_plan_writes_nothing(pytester, no_bench):
    pytester.makepyfile(test_plan='''
import pytest

@pytest.mark.clause("IEC 62055-41:2014 8.2")
def test_needs_the_meter(dut, record):
    pass
''')
    result = run_plan(pytester, "--collect-only")
    assert result.ret == pytest.ExitCode.OK
    assert not (pytester.path / "reports").exists()


def test_options_and_markers_are_registered(pytester):
    result = run_plan(pytester, "--help")
    result.stdout.fnmatch_lines(["*--bench=FILE*", "*--speed=N*", "*--fault=NAME*",
                                 "*--allow-expired-calibration*", "*--rig-report-dir=DIR*"])
    result = run_plan(pytester, "--markers")
    result.stdout.fnmatch_lines(["*@pytest.mark.clause(*refs)*",
                                 "*@pytest.mark.faults(*names)*"])


def test_a_clause_marker_alone_makes_a_plan_session(pytester, no_bench):
    pytester.makepyfile(test_plan='''
import pytest

@pytest.mark.clause("SPLN D3.009-1:2010 5.1")
def test_checks_nothing_measured():
    pass
''')
    run_plan(pytester, run_id="r", html=False).assert_outcomes(passed=1)
    assert (pytester.path / "reports" / "r" / "results.jsonl").exists()


def test_a_test_marked_irreversible_runs_after_every_other(pytester, no_bench):
    """A test that leaves the meter where the bench cannot bring it back (the 128-bit key
    change) goes last, whatever its file's name; the others keep their order."""
    pytester.makepyfile(test_a='''
import pytest

@pytest.mark.irreversible("leaves the meter on a key it cannot leave")
def test_migrate():
    pass

def test_first():
    pass
''', test_b='''
def test_second():
    pass
''')
    result = run_plan(pytester, "--collect-only", "-q")
    ids = [line for line in result.outlines if "::" in line]
    assert ids == ["test_a.py::test_first", "test_b.py::test_second", "test_a.py::test_migrate"]
