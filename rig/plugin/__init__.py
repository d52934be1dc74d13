"""The STS Rig pytest plugin: bench options, markers, the run record and the report.

Registered through the `pytest11` entry point. It stays inert in a session whose tests use
none of its fixtures and carry no `clause` marker (the project's own tests): it then starts
no bench and writes nothing. In a plan session it loads the bench file (a bad one stops the
run with one message before any test), brings the bench up before the first test when a
test needs it (the emulated bench as a subprocess when no real one is named), writes
`results.jsonl` as the run goes, fails a test whose measurement is outside its limits, and
gives pytest-html the bench identity, the declared values, the per-test clauses,
measurements and plots, and the clause matrix at the end.
"""

from __future__ import annotations

import base64
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from rig.bench.session import (
    BENCH_FIXTURES,
    METER_FIXTURES,
    RIG_FIXTURES,
    BenchFault,
    RigSession,
    RunOptions,
    deferred_signals,
)
from rig.plugin import fixtures
from rig.plugin.fixtures import PLOTS, RECORDER, SESSION
from rig.record.report_context import write_context
from rig.record.run_record import Measurement, TestOutcome, clause_matrix

REPORT = pytest.StashKey[Any]()
REASON_CHARS = 800


def pytest_addoption(parser: pytest.Parser, pluginmanager: pytest.PytestPluginManager) -> None:
    # the fixtures module is registered as a plugin of its own (imported above, so not
    # through `pytest_plugins`, which would import it a second time for assertion rewriting)
    if not pluginmanager.is_registered(fixtures):
        pluginmanager.register(fixtures, "rig.plugin.fixtures")
    prog = os.environ.get("RIG_PROG")  # set by `rig run` for its pytest child
    if prog and hasattr(type(parser), "prog"):
        parser.prog = prog  # usage errors name `rig run`, not `python -m pytest`
    group = parser.getgroup("rig", "STS Rig bench")
    group.addoption("--bench", default=None, metavar="FILE",
                    help="bench TOML (default: the emulated bench rig/benches/emulated.toml)")
    group.addoption("--speed", type=float, default=None, metavar="N",
                    help="emulated bench clock speed (default: the bench file's)")
    group.addoption("--fault", action="append", default=[], metavar="NAME",
                    help="switch on an emulator fault (emulated bench only; repeatable)")
    group.addoption("--profile", default=None, metavar="NAME|FILE",
                    help="meter profile (default: the bench file's meter.profile); an "
                         "emulated bench serves this profile's meter")
    group.addoption("--allow-expired-calibration", action="store_true",
                    help="use instruments past their calibration due date")
    group.addoption("--meters", default=None, metavar="FILE",
                    help="meters file (CSV): the meter's keys and lot by the PAN it reports "
                         "at bring-up, instead of the bench file's [meter] pan and keys")
    group.addoption("--rig-report-dir", default="reports", metavar="DIR",
                    help="where run directories are written (default: reports/)")
    group.addoption("--rig-run-id", default=None, metavar="ID",
                    help="name of this run's directory (default: date-time[-faults])")
    group.addoption("--rig-position", default=None, metavar="K",
                    help="the bench position this run's meter sits on, for the record and the "
                         "batch summary (rig run --positions sets it)")
    group.addoption("--rig-operator", default=None, metavar="NAME",
                    help="who runs the tests, for the report (default: the bench file's)")
    group.addoption("--keypad", default=None, metavar="NAME",
                    help="keypad kind for this run: injector or a relay board (`rig emulate "
                         "--list-keypads`); overrides the bench file's [keypad] kind")
    group.addoption("--answers", default=None, metavar="FILE",
                    help="operator answers file for the plans that need a person "
                         "(rig/bench/operator_steps.py); without it and without a terminal "
                         "they skip")
    group.addoption("--explore", type=float, default=None, metavar="BENCH_SECONDS",
                    help="run the model-based exploration (testplans/test_explore.py) for "
                         "this much bench time, and the state matrix in every state; off "
                         "(skipped) without it")
    group.addoption("--rig-only-faults", default=None, metavar="NAME[,NAME]",
                    help="run only the plan tests marked to catch these faults")
    for name, text in (("item-condition", "the item's condition as received"),
                       ("item-received", "the date the item was received"),
                       ("temperature", "ambient temperature, °C"),
                       ("humidity", "ambient relative humidity, %%"),
                       ("signatory", "the authorised signatory: NAME[, FUNCTION]")):
        group.addoption(f"--rig-{name}", default=None, help=f"for the report: {text}")
    group.addoption("--rig-progress", default="auto", choices=("auto", "lines", "off"),
                    help="run progress: a status bar on a terminal, else a line per test "
                         "(auto); a line per test (lines); none (off)")


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers", "clause(*refs): clauses of IEC 62055 / SPLN D3.009-1 a plan test checks")
    config.addinivalue_line(
        "markers", "faults(*names): emulator faults this plan test is meant to catch")
    config.addinivalue_line(
        "markers", "judges_optical_link: a plan test that judges the optical port itself, "
        "run even when bring-up found the port outside IEC 62056-21")
    config.addinivalue_line(
        "markers", "measures(*declared): the measurements a plan test declares "
        "(rig.record.measures.Measure)")
    config.addinivalue_line(
        "markers", "irreversible(why): a plan test that leaves the meter in a state the "
        "bench cannot undo (e.g. a key it cannot change back from): run after every other")
    opt = config.option
    if opt.speed is not None and opt.speed <= 0:
        raise pytest.UsageError(f"rig: --speed must be a positive number, got {opt.speed:g}")
    session = RigSession(RunOptions(
        bench=opt.bench, speed=opt.speed, faults=list(opt.fault),
        allow_expired_calibration=opt.allow_expired_calibration,
        report_dir=Path(opt.rig_report_dir), run_id=opt.rig_run_id, profile=opt.profile,
        meters=opt.meters, position=opt.rig_position))
    config.stash[SESSION] = session
    if opt.bench or opt.fault or opt.profile:  # asked for: a bad file is a usage error now
        try:
            session.load_config()
        except BenchFault as exc:
            raise pytest.UsageError(f"rig: {exc}") from None
    if opt.keypad:  # the keypad kind for this run, over the bench file's
        from rig.bench.devices import with_keypad_kind

        try:
            session.load_config()
            session.bench_config = with_keypad_kind(session.bench_config, opt.keypad)
        except (BenchFault, ValueError) as exc:
            raise pytest.UsageError(f"rig: {exc}") from None
    if getattr(opt, "htmlpath", None) and config.pluginmanager.hasplugin("html"):
        from rig.record.pytest_html import HtmlReport

        report = HtmlReport(session)
        config.stash[REPORT] = report
        config.pluginmanager.register(report, "rig-html-report")
    config.pluginmanager.register(_Outcomes(session), "rig-outcomes")
    from rig.plugin.stop_notice import PLUGIN_NAME, StopNotice

    config.pluginmanager.register(StopNotice(config), PLUGIN_NAME)  # SIGTERM: no crash text
    from rig.plugin.progress import RigProgress

    config.pluginmanager.register(  # active only once collection shows a plan session
        RigProgress(config, session.bench_time, active=lambda: session.active), "rig-progress")
    config.add_cleanup(session.close)


def clauses_of(item: pytest.Item) -> list[str]:
    return [str(ref) for mark in item.iter_markers("clause") for ref in mark.args]


def faults_of(item: pytest.Item) -> list[str]:
    return [str(name) for mark in item.iter_markers("faults") for name in mark.args]


def rig_fixtures_of(item: pytest.Item) -> set[str]:
    """The fixtures of ours the item uses (a project's own fixture of the same name, e.g.
    a `profile` in tests/conftest.py, does not count)."""
    info = getattr(item, "_fixtureinfo", None)
    if info is None:
        return set()
    ours = set()
    for name in RIG_FIXTURES & set(info.names_closure):
        defs = info.name2fixturedefs.get(name) or ()
        if defs and getattr(defs[-1].func, "__module__", "").startswith("rig."):
            ours.add(name)
    return ours


# --- collection -------------------------------------------------------------------------------


def pytest_collection_modifyitems(session: pytest.Session, config: pytest.Config,
                                  items: list[pytest.Item]) -> None:
    # a test that leaves the meter where the bench cannot bring it back goes last, so no
    # other test meets the meter in that state (a stable sort keeps the rest in order)
    items.sort(key=lambda item: item.get_closest_marker("irreversible") is not None)
    only = config.option.rig_only_faults
    if only:
        wanted = {name.strip() for name in only.split(",") if name.strip()}
        keep = [i for i in items if wanted & set(faults_of(i))]
        drop = [i for i in items if wanted.isdisjoint(faults_of(i))]
        if drop:
            config.hook.pytest_deselected(items=drop)
        items[:] = keep


def pytest_collection_finish(session: pytest.Session) -> None:
    """A plan session starts here: run directory, bench up, `run_start`, before any test."""
    config = session.config
    rig = config.stash[SESSION]
    if config.option.collectonly or rig.active:
        return
    uses = {item.nodeid: rig_fixtures_of(item) for item in session.items}
    plan_items = [i for i in session.items if clauses_of(i) or uses[i.nodeid]]
    if not plan_items:
        return
    try:
        rig.activate([TestOutcome(i.nodeid, clauses_of(i), faults_of(i)) for i in plan_items])
    except BenchFault as exc:
        pytest.exit(f"rig: {exc}", returncode=pytest.ExitCode.USAGE_ERROR)
    _describe_environment(config, rig)
    needed = set().union(*uses.values())
    error = None
    if needed & BENCH_FIXTURES:
        try:
            rig.bring_up(meter=bool(needed & METER_FIXTURES))
        except BenchFault as exc:
            error = str(exc)
    rig.write_start(list(config.invocation_params.args))
    write_context(config, rig, plan_items)
    _describe_environment(config, rig)
    if rig.meter_error:  # said now, at the top: a silent meter makes a run with no verdict
        reporter = config.pluginmanager.get_plugin("terminalreporter")
        text = (f"rig: {rig.meter_error}; every test that needs the meter is skipped, and the "
                "run ends with NO VERDICT")
        if reporter is not None:
            reporter.write_line(text, red=True, bold=True)
    if error:
        # a device or bench problem, not bad input: exit 1, as every rig command (README)
        pytest.exit(f"rig: {error}", returncode=pytest.ExitCode.TESTS_FAILED)


def _describe_environment(config: pytest.Config, rig: RigSession) -> None:
    """A few lines in pytest-html's Environment table (pytest-metadata)."""
    try:
        from pytest_metadata.plugin import metadata_key
    except ImportError:
        return
    meta = config.stash.get(metadata_key, None)
    if meta is None:
        return
    from rig import __version__

    cfg = rig.bench_config
    meta["STS Rig"] = __version__
    meta["Bench file"] = str(cfg.path)
    meta["Meter PAN"] = cfg.meter.pan
    meta["Meter profile"] = rig.profile.name
    meta["Run"] = str(rig.run_dir)
    if cfg.bench.emulated and rig.identity:
        meta["Emulated bench"] = (f"speed {rig.identity.get('speed')}, faults: "
                                  f"{', '.join(rig.identity.get('faults') or []) or 'none'}")


# --- per test ---------------------------------------------------------------------------------


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo) -> Iterator[None]:
    outcome = yield
    report: pytest.TestReport = outcome.get_result()
    rig = item.config.stash[SESSION]
    if not rig.active or item.nodeid not in rig.tests:
        return
    report.rig_clauses = rig.tests[item.nodeid].clauses
    recorder = item.stash.get(RECORDER, None)
    if report.when == "call" and recorder is not None and recorder.failed:
        _fail_on_measurements(report, recorder.failed)
    if report.when == "teardown":
        _attach_extras(item, report, rig)


def _fail_on_measurements(report: pytest.TestReport, failed: list[Measurement]) -> None:
    """A measurement outside its limits fails the test, even one that asserts nothing."""
    text = "measurements outside their limits:\n" + "\n".join(
        f"  {m.summary()}" for m in failed)
    if report.passed and not hasattr(report, "wasxfail"):
        report.outcome = "failed"
        report.longrepr = text
    elif report.failed:
        report.sections.append(("rig measurements", text))


def _attach_extras(item: pytest.Item, report: pytest.TestReport, rig: RigSession) -> None:
    if rig.record is not None:  # the plots go in the record: the report is rendered from it
        for title, png in item.stash.get(PLOTS, []):
            rig.record.write("plot", test=item.nodeid, title=title,
                             png=base64.b64encode(png).decode("ascii"))
    if REPORT not in item.config.stash:
        return
    from rig.record.pytest_html import html_extra, measurement_html, png_extra
    from rig.record.run_record import read_record

    test = rig.tests[item.nodeid]
    extras = list(getattr(report, "extras", []))
    lines = []  # the view is of the record, as written (flushed line by line)
    if rig.run_dir is not None and (rig.run_dir / "results.jsonl").is_file():
        lines = [x for x in read_record(rig.run_dir / "results.jsonl")
                 if x.get("kind") == "measurement" and x.get("test") == item.nodeid]
    emulated = bool(rig.bench_config is not None and rig.bench_config.bench.emulated)
    extras.append(html_extra(rig.redact(measurement_html(
        test.clauses, lines, test.faults if emulated else None))))
    for title, png in item.stash.get(PLOTS, []):
        extras.append(png_extra(png, title))
    report.extras = extras


class _Outcomes:
    """Collects the phases of each test and writes its `test` line (a plugin object, so
    it sees the config without a global)."""

    def __init__(self, rig: RigSession) -> None:
        self.rig = rig

    def pytest_keyboard_interrupt(self, excinfo: pytest.ExceptionInfo[BaseException]) -> None:
        """Ctrl-C, SIGTERM (raised as KeyboardInterrupt("SIGTERM")) or pytest.exit: the run
        stops, and from here on no device is driven."""
        value = excinfo.value
        if isinstance(value, KeyboardInterrupt):
            reason = "SIGTERM" if str(value) == "SIGTERM" else "Ctrl-C (SIGINT)"
        else:
            reason = f"pytest.exit: {getattr(value, 'msg', value)}"
        self.rig.stopping(reason)

    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        rig = self.rig
        test = rig.tests.get(report.nodeid) if rig.active else None
        if test is None:
            return
        if report.when == "setup":
            test.duration = 0.0
            test.outcome, test.phase, test.reason = "running", "", ""
        test.duration += report.duration
        if report.failed:
            if test.outcome not in ("failed", "error"):
                test.outcome = "failed" if report.when == "call" else "error"
                test.phase = report.when
                test.reason = _reason(report)
        elif report.skipped and test.outcome == "running":
            test.outcome = "xfailed" if hasattr(report, "wasxfail") else "skipped"
            test.phase = report.when
            test.reason = _reason(report)
        elif report.when == "call" and test.outcome == "running":
            test.outcome = "xpassed" if hasattr(report, "wasxfail") else "passed"
            test.phase = "call"
        if report.when == "teardown":
            if test.outcome == "running":
                test.outcome = "error"
            if rig.record is not None:
                rig.record.write("test", test=test.test, outcome=test.outcome,
                                 phase=test.phase, duration=round(test.duration, 3),
                                 clauses=test.clauses, faults=test.faults,
                                 reason=test.reason)


def _reason(report: pytest.TestReport) -> str:
    """The longrepr summary: the crash message, or the skip reason."""
    longrepr = report.longrepr
    if longrepr is None:
        return ""
    if isinstance(longrepr, tuple) and len(longrepr) == 3:  # a skip: (file, line, reason)
        text = str(longrepr[2]).removeprefix("Skipped: ")
    else:
        crash = getattr(longrepr, "reprcrash", None)
        text = crash.message if crash is not None else str(longrepr)
    return text[:REASON_CHARS]


# --- the end ----------------------------------------------------------------------------------


@pytest.hookimpl(wrapper=True, tryfirst=True)
def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> Iterator[None]:
    """The end, in this order whatever happened: the plan's fixtures are torn down (a run
    that stopped early drives no device in them), then the bench goes to its safe state,
    which is the last thing done to it, then `run_end`; the report is written after."""
    rig = session.config.stash[SESSION]
    if rig.active and not rig.finished:
        with deferred_signals():
            _teardown_fixtures(session, rig)
        rig.finish(int(exitstatus))
        if rig.no_verdict() and session.exitstatus in (pytest.ExitCode.OK,
                                                        pytest.ExitCode.NO_TESTS_COLLECTED):
            session.exitstatus = pytest.ExitCode.TESTS_FAILED
        _say_first(session.config, rig)
    return (yield)


def _teardown_fixtures(session: pytest.Session, rig: RigSession) -> None:
    """Tear down what the plan left set up (after Ctrl-C: every module and session fixture);
    a teardown that fails is said in one line and kept in the record, never a crash."""
    try:
        session._setupstate.teardown_exact(None)
    except BaseException as exc:  # every teardown error is reported, none lost
        errors = list(exc.exceptions) if isinstance(exc, BaseExceptionGroup) else [exc]
        for err in errors:
            text = rig.redact(f"{type(err).__name__}: {err}".strip())[:REASON_CHARS]
            rig.teardown_errors.append(text)
            if rig.record is not None:
                rig.record.write("teardown_error", error=text, stopped=rig.stop_reason)


def _say_first(config: pytest.Config, rig: RigSession) -> None:
    """Before pytest's own summary: why the run stopped, or why it judged nothing."""
    reporter = config.pluginmanager.get_plugin("terminalreporter")
    lines = []
    if rig.stop_reason:
        where = rig_stopped_in(rig)
        lines.append(f"rig: run stopped by {rig.stop_reason}{where}; the bench is in its "
                     "safe state")
    verdict = rig.no_verdict()
    if verdict:
        lines.append(f"rig: NO VERDICT: {verdict}")
    for text in rig.teardown_errors:
        lines.append(f"rig: teardown after the stop: {text.splitlines()[0]}")
    for line in lines:
        if reporter is not None:
            reporter.write_line(line, red=True, bold=True)
        else:
            print(line)


def rig_stopped_in(rig: RigSession) -> str:
    interrupted = [t.test for t in rig.tests.values() if t.outcome == "interrupted"]
    done = sum(t.outcome not in ("not run", "interrupted") for t in rig.tests.values())
    where = f" in {interrupted[0]}" if interrupted else ""
    return f"{where} after {done} of {len(rig.tests)} tests"


def pytest_terminal_summary(terminalreporter: Any, exitstatus: int,
                            config: pytest.Config) -> None:
    """The run's last words: the report written from the closed record, then the overall
    verdict (from that record, as page 1 states it), the stamps and where the report is."""
    rig = config.stash[SESSION]
    if not rig.active:
        return
    terminalreporter.write_sep("-", "STS Rig")
    if rig.meter_error:
        terminalreporter.write_line(f"meter: {rig.meter_error}")
    report = _report_once(config, rig)
    if report is None:
        terminalreporter.write_line(f"results: {rig.run_dir / 'results.jsonl'}")
        return
    from rig.record.report_model import verdict_lines

    colour = {"PASS": {"green": True}, "FAIL": {"red": True}}.get(report.verdict(),
                                                                   {"yellow": True})
    lines = verdict_lines(report)
    terminalreporter.write_line(rig.redact(lines[0]), bold=True, **colour)
    for line in lines[1:]:
        terminalreporter.write_line(line)
    terminalreporter.write_line(f"results: {rig.run_dir / 'results.jsonl'}")
    for name in ("report.pdf", "report.html"):
        if (rig.run_dir / name).exists():
            terminalreporter.write_line(f"report:  {rig.run_dir / name}")


WRITTEN = pytest.StashKey[Any]()


def _report_once(config: pytest.Config, rig: RigSession) -> Any:
    """report.html and report.pdf, written once (at the summary, else at unconfigure), from
    the record; the RunReport they show, or None when it could not be built."""
    if WRITTEN in config.stash:
        return config.stash[WRITTEN]
    report = None
    if rig.run_dir is not None and (rig.run_dir / "results.jsonl").is_file():
        report = _write_signed_report(rig, rig.run_dir / "report.html")
    config.stash[WRITTEN] = report
    return report


def pytest_unconfigure(config: pytest.Config) -> None:
    """The report files are written: clause matrix at the end, every key masked."""
    rig = config.stash.get(SESSION, None)
    if rig is None or not rig.active:
        return
    if rig.record is not None:
        rig.record.close()
    from rig.record.pytest_html import append_section, clause_matrix_html, redact_file

    htmlpath = getattr(config.option, "htmlpath", None)
    ours = rig.run_dir / "report.html" if rig.run_dir is not None else None
    _report_once(config, rig)
    if htmlpath and Path(htmlpath).is_file() and REPORT in config.stash \
            and (ours is None or Path(htmlpath).resolve() != ours.resolve()):
        append_section(Path(htmlpath), rig.redact(clause_matrix_html(
            *_matrix_of_record(rig))))
        redact_file(Path(htmlpath), rig.redact)
    xmlpath = getattr(config.option, "xmlpath", None)
    if xmlpath:
        redact_file(Path(xmlpath), rig.redact)


def _matrix_of_record(rig: RigSession) -> tuple[list[dict[str, Any]], list[Any]]:
    """The clause matrix and the declared values for pytest-html's page, from the record
    (the session's memory only when the record cannot be read)."""
    from rig.record.pytest_html import record_start
    from rig.record.report_model import RecordError, load

    try:
        matrix = load(rig.run_dir).matrix() if rig.run_dir is not None else None
    except (RecordError, OSError):
        matrix = None
    declared = [tuple(row) for row in record_start(rig.run_dir).get("declared") or []]
    return (matrix if matrix is not None else clause_matrix(rig.tests.values()),
            declared or rig.profile.as_table())


def _write_signed_report(rig: RigSession, path: Path) -> Any:
    """report.html and report.pdf from the record; a rendering failure is said in one
    line (the record stays, and `rig report RUN_DIR` renders it again)."""
    from rig.record.report_pdf import write_report

    try:
        report, _ = write_report(path.parent, redact=rig.redact)
        return report
    except Exception as exc:  # the run's results must survive a report that fails
        print(f"rig: the report could not be written ({type(exc).__name__}: {exc}); "
              f"`rig report {path.parent}` renders it from results.jsonl")
        return None
