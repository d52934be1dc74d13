"""The pytest-html view (secondary, when `--html` is given) and the shared HTML helpers.

The signed test report (report.html and report.pdf of a run) is rendered from the record by
rig.record.report_html and rig.record.report_pdf; this module keeps pytest-html's page for
those who ask
for it, and the identity rows both use.

Above the results: the bench identity (meter PAN, manufacturer and firmware, each
instrument's `*IDN?` and calibration date, rig version, bench file, speed and faults of an
emulated bench) and the meter's declared values. In each test's row: its clauses; in its
details: the measurement table and the plots. At the very end: the clause matrix, each
clause with its tests, its verdict and the declared values it rests on.
"""

from __future__ import annotations

import base64
import html
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

VERDICT_COLOURS = {"PASS": "#1a7f37", "FAIL": "#cf222e", "INFO": "#57606a",
                   "SKIPPED": "#9a6700", "NOT RUN": "#57606a"}
STYLE = ("<style>.rig table{border-collapse:collapse;margin:.4em 0}"
         ".rig td,.rig th{border:1px solid #ccc;padding:2px 8px;text-align:left;"
         "vertical-align:top}.rig th{background:#f2f2f2}</style>")


def esc(value: Any) -> str:
    return html.escape("" if value is None else str(value))


def verdict_cell(verdict: str) -> str:
    colour = VERDICT_COLOURS.get(verdict, "#57606a")
    return f"<td style='color:{colour};font-weight:bold'>{esc(verdict)}</td>"


def _table(headers: Iterable[str], rows: Iterable[Iterable[str]], cls: str) -> str:
    head = "".join(f"<th>{esc(h)}</th>" for h in headers)
    body = "".join("<tr>" + "".join(row) + "</tr>" for row in rows)
    return f"<table class='{cls}'><tr>{head}</tr>{body}</table>"


def _td(value: Any) -> str:
    return f"<td>{esc(value)}</td>"


def shown(value: Any, bound: str | None = "") -> str:
    """A measured value as the report prints it (the record keeps every digit); a bound
    with its side: "> 0.715" for a lower bound (the true value lies above it)."""
    text = "" if value is None else str(value)
    if isinstance(value, float):
        text = f"{value:.6g}"
    if bound and value is not None:
        from rig.record.run_record import BOUNDS

        text = BOUNDS.get(bound, f"({bound} bound) ") + text
    return text


# --- above the results --------------------------------------------------------------------


def identity_rows(identity: dict[str, Any]) -> list[tuple[str, str]]:
    """(what, value) rows of the bench identity, in reading order."""
    meter = identity.get("meter", {})
    rows = [("bench", identity.get("bench")), ("bench file", identity.get("bench_file")),
            ("rig version", identity.get("rig_version"))]
    if identity.get("emulated"):
        faults = identity.get("faults") or []
        rows += [("emulated bench", f"speed {identity.get('speed')}x, faults: "
                  + (", ".join(faults) if faults else "none"))]
    rows += [("meter PAN", meter.get("pan")),
             ("meter PAN read back", meter.get("pan_read")),
             ("meter manufacturer", meter.get("manufacturer")),
             ("meter identification", meter.get("identification")),
             ("meter firmware", meter.get("firmware")),
             ("meter profile", meter.get("profile")),
             ("optical port", meter.get("optical"))]
    keypad = identity.get("keypad") or {}
    rows += [("keypad injector", " ".join(x for x in (keypad.get("idn"), keypad.get("port")
                                                       and f"({keypad['port']})") if x))]
    for role, inst in (identity.get("instruments") or {}).items():
        due = inst.get("calibration_due") or "not given"
        if inst.get("calibration_expired"):
            due += " (EXPIRED: run with --allow-expired-calibration)"
        rows.append((role, f"{inst.get('idn') or '(not used in this run)'}; {inst.get('model')}; "
                           f"{inst.get('resource') or ''}; calibration due {due}"))
    return [(k, "" if v is None else str(v)) for k, v in rows if v not in (None, "")]


def identity_html(identity: dict[str, Any], notes: Iterable[str] = ()) -> str:
    rows = [[_td(k), _td(v)] for k, v in identity_rows(identity)]
    rows += [[_td("note"), _td(n)] for n in notes if n]
    return ("<div class='rig'>" + STYLE + "<h2>Bench identity</h2>"
            + _table(["", ""], rows, "rig-identity") + "</div>")


def declared_html(profile_name: str, rows: Iterable[tuple[str, str, str]]) -> str:
    body = [[_td(k), _td(v), _td(u)] for k, v, u in rows]
    return (f"<div class='rig'><h2>Declared values (profile {esc(profile_name)})</h2>"
            "<p>What the maker declares where the standards leave a number open; the plans "
            "test the meter against these.</p>"
            + _table(["declared value", "value", "unit"], body, "rig-declared") + "</div>")


# --- per test -----------------------------------------------------------------------------


def measurement_html(clauses: list[str], measurements: list[Any],
                     faults: list[str] | None = None) -> str:
    """The details of one test: its clauses and its measurement table, from the record's
    measurement lines (dicts; a `Measurement` is taken as the line it writes). `faults`
    are shown only when given (the plugin gives them on an emulated bench only)."""
    from rig.record.run_record import measurement_line

    lines = [m if isinstance(m, dict) else measurement_line(m) for m in measurements]
    parts = ["<div class='rig'>" + STYLE,
             "<p><b>Clauses:</b> " + ("; ".join(esc(c) for c in clauses) or "none") + "</p>"]
    if faults:
        parts.append("<p><b>Emulated bench: emulator faults it is meant to catch:</b> "
                     + esc(", ".join(faults)) + "</p>")
    if lines:
        rows = []
        for line in lines:
            unc = line.get("uncertainty") or {}
            decision = (line.get("decision") or {}).get("verdict") or line.get("verdict")
            rows.append([_td(line.get("name")), _td(line.get("obtained") or line.get("source")),
                         _td(shown(line.get("value"), line.get("bound"))), _td(line.get("unit")),
                         _td(line.get("limits")),
                         _td("" if unc.get("U") is None else f"{unc['U']:.2g}"),
                         verdict_cell(str(decision))])
        parts.append(_table(["measurement", "obtained from", "value", "unit", "limits",
                             "U (k=2)", "verdict"], rows, "rig-measurements"))
    else:
        parts.append("<p>No measurements recorded.</p>")
    parts.append("</div>")
    return "".join(parts)


def png_extra(png: bytes, title: str) -> dict[str, Any]:
    from pytest_html import extras

    return extras.png(base64.b64encode(png).decode("ascii"), title)


def html_extra(text: str) -> dict[str, Any]:
    from pytest_html import extras

    return extras.html(text)


# --- the clause matrix -----------------------------------------------------------------------


def declared_for(clause: str, declared: list[tuple[str, str, str]]) -> list[str]:
    """The declared values a clause names (e.g. "declared: tokens.tid_store_depth")."""
    return [f"{k} = {v}{' ' + u if u else ''}" for k, v, u in declared if k in clause]


def clause_matrix_html(matrix: list[dict[str, Any]],
                       declared: list[tuple[str, str, str]]) -> str:
    rows = []
    for row in matrix:
        tests = "<br>".join(f"{esc(t['test'].split('::', 1)[-1])}: {esc(t['outcome'])}"
                            for t in row["tests"])
        rows.append([_td(row["clause"]), verdict_cell(row["verdict"]), f"<td>{tests}</td>",
                     "<td>" + "<br>".join(esc(d) for d in declared_for(row["clause"],
                                                                        declared)) + "</td>"])
    counts: dict[str, int] = {}
    for row in matrix:
        counts[row["verdict"]] = counts.get(row["verdict"], 0) + 1
    summary = ", ".join(f"{n} {v}" for v, n in sorted(counts.items())) or "no clauses"
    return ("<section id='clause-matrix' class='rig' style='margin:2em'>" + STYLE
            + f"<h2>Clause matrix</h2><p>{len(matrix)} clauses: {esc(summary)}. A clause "
            "passes when every test of it passed; it fails when any failed.</p>"
            + _table(["clause", "verdict", "tests", "declared values"], rows,
                     "rig-clause-matrix") + "</section>")


def append_section(path: Path, section: str) -> None:
    """Put a section at the end of the report's body."""
    text = path.read_text(encoding="utf-8")
    at = text.rfind("</body>")
    text = text[:at] + section + text[at:] if at >= 0 else text + section
    path.write_text(text, encoding="utf-8")


def redact_file(path: Path, redact: Callable[[str], str]) -> None:
    """Rewrite a report file with every known key masked."""
    if not path.is_file():
        return
    text = path.read_text(encoding="utf-8", errors="replace")
    clean = redact(text)
    if clean != text:
        path.write_text(clean, encoding="utf-8")


# --- pytest-html hooks ----------------------------------------------------------------------


class HtmlReport:
    """pytest-html hooks; registered by the plugin only when pytest-html writes a report."""

    def __init__(self, session: Any) -> None:
        self.session = session
        self.report_data: Any = None

    def pytest_html_report_title(self, report: Any) -> None:
        self.report_data = report  # titled once the session knows it is a plan run

    def retitle(self) -> None:
        if self.report_data is not None and self.session.bench_config is not None:
            self.report_data.title = (f"STS Rig conformance report: "
                                      f"{self.session.bench_config.bench.name}, "
                                      f"run {self.session.run_id}")

    def pytest_html_results_table_header(self, cells: list[str]) -> None:
        cells.insert(2, "<th>Clause</th>")

    def pytest_html_results_table_row(self, report: Any, cells: list[str]) -> None:
        clauses = getattr(report, "rig_clauses", [])
        cells.insert(2, f"<td class='col-clause'>{'<br>'.join(esc(c) for c in clauses)}</td>")

    def pytest_html_results_summary(self, prefix: list[str], summary: list[str],
                                    postfix: list[str], session: Any) -> None:
        rig = self.session
        if not rig.active:
            return
        self.retitle()
        start = record_start(rig.run_dir)  # the view is of the record, as the report is
        notes = [start.get("bench_error"), start.get("meter_error"),
                 start.get("meter_warning")] if start else \
            [rig.bench_error, rig.meter_error, rig.meter_warning]
        identity = start.get("identity") if start else None
        prefix.append(rig.redact(identity_html(identity or rig.identity
                                               or rig.config_identity(), notes)))
        declared = [tuple(row) for row in start.get("declared") or []] if start else []
        prefix.append(declared_html(str(start.get("profile") or rig.profile.name)
                                    if start else rig.profile.name,
                                    declared or rig.profile.as_table()))


def record_start(run_dir: Path | None) -> dict[str, Any]:
    """The record's run_start line ({} when there is no record yet): the pytest-html view
    shows the identity and declared values the record keeps, not the session's memory."""
    if run_dir is None or not (Path(run_dir) / "results.jsonl").is_file():
        return {}
    from rig.record.run_record import read_record

    return next((x for x in read_record(Path(run_dir) / "results.jsonl")
                 if x.get("kind") == "run_start"), {})
