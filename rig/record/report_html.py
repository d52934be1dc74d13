"""The signed test report as one HTML document, rendered from a `RunReport`.

The layout follows ISO/IEC 17025:2017 7.8.2 and 7.8.3: the first page carries the overall
verdict (NOT CONCLUDED with why), the stamps (INCOMPLETE, PARTIAL, EMULATED BENCH), the counts,
the clause matrix summary and the failures; details follow (lab and customer, the item,
method and plan version, conditions, uncertainty and decision rule, the bench, every test's
measurement table and plots at full size, the clause matrix, the declared values with their
sources, the sign-off). Print CSS (@page margin boxes) puts the report id, "page x of y" and
the emulated-bench stamp on every page; weasyprint and a browser's print both honour it.
Jinja2 escapes every value (autoescape), so a clause or a reason can never inject markup.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

from jinja2 import Environment, FileSystemLoader, StrictUndefined

from rig.record.decision import rule_text
from rig.record.measures import words
from rig.record.pytest_html import identity_rows, shown
from rig.record.report_model import LEFT_OUT_OUTCOMES, RunReport, local_time
from rig.record.safe_text import css_string, visible, visible_in_html
from rig.record.uncertainty import FUNCTION_UNITS, SPECS, specification_record, two_figures

#: the functions each role measures on a bench (the specification table lists these)
ROLE_FUNCTIONS = {"source": ("ac_voltage", "ac_current", "power"),
                  "load": ("ac_voltage", "ac_current", "power"),
                  "dmm": ("ac_voltage", "ac_current"), "scope": ("time_interval",)}
EMULATED_STAMP = "EMULATED BENCH: not a test of a physical meter"
STATEMENTS = ("The results relate only to the item tested, as received and in the condition "
              "noted. This report shall not be reproduced except in full without the written "
              "approval of the laboratory.")


def _css_string(text: str) -> str:
    return css_string(visible(text))  # rig.record.safe_text: nothing leaves the CSS string


def page_css(report: RunReport, title: str) -> str:
    """@page rules: A4, the report id and "page x of y" in every page's margins."""
    top_left = _css_string(f"{title} {report.run_id}")
    stamps = []
    if report.incomplete:
        stamps.append("INCOMPLETE")
    if report.partial:
        stamps.append("PARTIAL")
    top_right = _css_string(" ".join(stamps))
    centre = _css_string(EMULATED_STAMP if report.emulated else "")
    bottom_left = _css_string(f"Report {report.run_id}")
    font = 'font-family:"DejaVu Sans",Arial,sans-serif;font-size:8pt;'
    return ("@page{size:A4;margin:20mm 14mm 18mm 14mm;"
            f"@top-left{{content:{top_left};{font}color:#333}}"
            f"@top-center{{content:{centre};{font}font-weight:bold;color:#b00}}"
            f"@top-right{{content:{top_right};{font}font-weight:bold;color:#b00}}"
            f"@bottom-left{{content:{bottom_left};{font}color:#333}}"
            "@bottom-right{content:\"page \" counter(page) \" of \" counter(pages);"
            f"{font}color:#333}}}}")


STYLE = """
body{font-family:"DejaVu Sans",Arial,sans-serif;font-size:9pt;color:#111;margin:0 auto;
     max-width:190mm}
h1{font-size:16pt;margin:0 0 2mm}
h2{font-size:12pt;margin:6mm 0 2mm;border-bottom:1px solid #999;break-after:avoid}
h3{font-size:10pt;margin:4mm 0 1mm;break-after:avoid}
table{border-collapse:collapse;margin:1mm 0 3mm;width:100%}
td,th{border:1px solid #bbb;padding:1px 4px;text-align:left;vertical-align:top}
th{background:#eee}
thead{display:table-header-group}
tr{break-inside:avoid}
.kv td:first-child{width:32%;color:#333}
.num{text-align:right;white-space:nowrap}
.v-PASS{color:#1a7f37;font-weight:bold}
.v-FAIL,.v-error,.v-failed{color:#cf222e;font-weight:bold}
.v-CONDITIONAL{color:#9a6700;font-weight:bold}
.v-NOT{color:#9a6700;font-weight:bold}
a.ref::after{content:", page " target-counter(attr(href), page)}
.failures td{font-size:8pt}
.rig-measurements{table-layout:fixed;font-size:7.5pt}
.rig-measurements td,.rig-measurements th{overflow-wrap:anywhere}
.rig-measurements th:nth-child(1){width:21%}.rig-measurements th:nth-child(2){width:14%}
.rig-measurements th:nth-child(4){width:5%}.rig-measurements th:nth-child(6){width:7%}
.v-INFO,.v-SKIPPED,.v-skipped{color:#57606a}
.banner{border:2px solid #cf222e;color:#cf222e;padding:2mm;margin:2mm 0;font-weight:bold}
.stamp{border:2px solid #b00;color:#b00;padding:1mm 2mm;margin:1mm 0;font-weight:bold}
.emulated{text-align:center;color:#b00;font-weight:bold;font-size:8pt}
.verdict{font-size:20pt;font-weight:bold;margin:3mm 0 1mm}
.first{break-after:page}
.test{break-inside:auto;margin-bottom:4mm}
figure{margin:2mm 0;break-inside:avoid}
figure img{width:100%;height:auto;border:1px solid #ddd}
figcaption{font-size:8pt;color:#333}
.sign td{height:12mm}
.small{font-size:8pt;color:#333}
@media print{.emulated{display:none}}
"""


_ENV = Environment(loader=FileSystemLoader(Path(__file__).resolve().parent / "templates"),
                   autoescape=True, finalize=visible_in_html,
                   undefined=StrictUndefined, trim_blocks=True,
                   lstrip_blocks=True)
_TEMPLATE = _ENV.get_template("report.html.j2")


def _fig(value: Any) -> str:
    if value is None:
        return ""
    try:
        number = float(value)
    except (TypeError, ValueError):
        return str(value)
    return "0" if number == 0 else f"{two_figures(number):.6g}"


def _join(parts: list[Any], sep: str = ", ") -> str:
    return sep.join(str(p) for p in parts if p not in (None, ""))


def _conditions(ctx: dict[str, Any]) -> list[tuple[str, str]]:
    env = ctx.get("environment") or {}
    note = (env.get("source") or "bench file [environment]") if env \
        else "not recorded for this run"
    t, h = env.get("temperature_c"), env.get("humidity_pct")
    return [("ambient temperature", f"{t:g} °C" if isinstance(t, int | float) else
             "not recorded"),
            ("relative humidity", f"{h:g} %" if isinstance(h, int | float) else
             "not recorded"),
            ("supply", env.get("supply_note") or "not recorded"),
            ("recorded from", note)]


def budget_rows(tests: list[Any]) -> list[tuple[Any, str, dict[str, Any], Any, str]]:
    """Section 5's budgets: (test, what, budget, instrument, unit) for every value measured
    with or compared against an instrument, and every reading a value was judged on (a
    relay state: the load voltage it was decided from)."""
    out: list[tuple[Any, str, dict[str, Any], Any, str]] = []
    for t in tests:
        for row in t.rows:
            if row.uncertainty:
                out.append((t, row.name, row.uncertainty, row.instrument, row.unit))
            for b in row.basis:
                if isinstance(b.get("uncertainty"), dict):
                    what = words(str(b.get("measurement") or "reading")).lower()
                    out.append((t, f"{row.name}: the {what} it was judged on",
                                b["uncertainty"], b.get("instrument"), str(b.get("unit") or "")))
    return out


def shared_prefix(names: list[str], sep: str = " | ") -> str:
    """The start ("state | event | ") every measurement name of a test shares, up to and
    including a separator: printed once above the test's table instead of on every line
    (a matrix cell names its state and event in each of its dozen lines)."""
    if len(names) < 2:
        return ""
    first = names[0]
    end = first.rfind(sep)
    while end > 0:
        head = first[:end + len(sep)]
        if all(n.startswith(head) and len(n) > len(head) for n in names):
            return head
        end = first.rfind(sep, 0, end)
    return ""


def render(report: RunReport, *, issued: dt.datetime | None = None) -> str:
    """The report document (self-contained HTML: styles and plots inside)."""
    ctx = report.context
    start = report.start
    offset = ctx.get("utc_offset")
    title = ctx.get("title") or "Test report"
    issued = issued or dt.datetime.now().astimezone()
    lab = ctx.get("lab") or {}
    customer = ctx.get("customer") or {}
    item = ctx.get("item") or {}
    meter = (start.get("identity") or {}).get("meter", {})
    plan = ctx.get("plan") or {}
    hidden = set(ctx.get("declared_hidden") or [])
    hidden |= {k for k, _, _ in start.get("declared", []) if "password" in k.lower()}
    sources = ctx.get("declared_sources") or {}
    declared = [(k, v, u, sources.get(k, "")) for k, v, u in start.get("declared", [])
                if k not in hidden]
    matrix = report.matrix()
    summary: dict[str, int] = {}
    for row in matrix:
        summary[row["verdict"]] = summary.get(row["verdict"], 0) + 1
    operator = ctx.get("operator") or "not recorded"
    if ctx.get("operator_source"):
        operator += f" ({ctx['operator_source']})"
    item_rows = [("maker", item.get("maker") or meter.get("manufacturer")),
                 ("model", item.get("model")),
                 ("serial number (meter number, DRN)", item.get("serial")),
                 ("PAN", item.get("pan") or meter.get("pan")),
                 ("PAN read back from the meter", meter.get("pan_read")),
                 ("manufacturer id (optical port)", meter.get("manufacturer")),
                 ("identification (optical port)", meter.get("identification")),
                 ("firmware", _join([item.get("firmware") or meter.get("firmware"),
                                     item.get("firmware_source") and
                                     f"({item['firmware_source']})"], " ")),
                 ("profile (declared values)", item.get("profile") or start.get("profile")),
                 ("condition", item.get("condition") or "not recorded"),
                 ("date received", item.get("received") or "not recorded")]
    lab_rows = [("laboratory", lab.get("name") or "not named in the bench file [lab]"),
                ("address", lab.get("address") or "not given"),
                ("accreditation", lab.get("accreditation") or "none stated"),
                ("location of the work", f"{start.get('bench')} ({start.get('bench_file')})"),
                ("customer", customer.get("name") or "not named in the bench file [customer]"),
                ("customer address", customer.get("address") or "not given"),
                ("customer contact", customer.get("contact") or "not given")]
    plan_rows = [("rig version", plan.get("rig_version") or start.get("rig_version")),
                 ("git commit", plan.get("git_commit") or "not run from a git checkout"),
                 ("SHA-256 of the plan files run", plan.get("sha256") or "not recorded"),
                 ("plan files run", _join(plan.get("files") or []) or "not recorded"),
                 ("pytest arguments", " ".join(start.get("argv") or []) or "none")]
    instruments = (start.get("identity") or {}).get("instruments") or {}
    recorded = ctx.get("specifications")
    if isinstance(recorded, dict):  # the table the run used, from its record
        specs = recorded
        spec_note = "The specifications as the run recorded them at its start."
    else:  # an older record without them: today's table, and the report says so
        specs = {inst.get("model"): specification_record(inst.get("model") or "")
                 for inst in instruments.values() if inst.get("model") in SPECS}
        spec_note = ("This record predates recorded specifications: the table is the one of "
                     "this rig version; the U of each value is the one recorded.")
    spec_rows = [(role, inst.get("model"), fn, spec)
                 for role, inst in instruments.items()
                 for fn, spec in (specs.get(inst.get("model") or "") or {}).items()
                 if fn in ROLE_FUNCTIONS.get(role, ())]
    tests = list(report.tests.values())
    verdict = report.verdict()
    groups: dict[str, list[str]] = {}
    for x in report.left_out:
        entry = report.tests.get(x.test)
        groups.setdefault(x.reason, []).append(
            entry.name if entry is not None else x.title or words(x.test.split("::")[-1]))
    tested = {c for t in tests if t.outcome not in LEFT_OUT_OUTCOMES for c in t.clauses}
    clauses_left_out = sorted({c for x in report.left_out for c in x.clauses} - tested)
    rule = report.rule

    def declared_for(clause: str) -> list[str]:
        return [f"{k} = {v}{' ' + u if u else ''}" for k, v, u, _ in declared if k in clause]

    shared = {t.test: shared_prefix([row.name for row in t.rows]) for t in tests}
    anchors = {t.test: f"t{i}" for i, t in enumerate(tests, start=1)}
    sections = {t.test: f"7.{i}" for i, t in enumerate(tests, start=1)}
    # a failed test: its failed results; else the declared results it never reached (the
    # test stopped on an error before them), each with the limits it was held to
    failure_rows = [(t, row) for t in report.failures()
                    for row in (t.failed_rows() or [r for r in t.unreached_rows() if r.limits]
                                or [None])]
    env = ctx.get("environment") or {}
    t, h = env.get("temperature_c"), env.get("humidity_pct")
    conditions = _join([f"{t:g} °C" if isinstance(t, int | float) else None,
                        f"{h:g} % RH" if isinstance(h, int | float) else None,
                        env.get("supply_note")], ", ")
    signatory = ctx.get("signatory") or {}
    standards = report.standards()
    return _TEMPLATE.render(
        anchors=anchors, sections=sections, failure_rows=failure_rows, shared=shared,
        names={t.test: t.name for t in tests}, not_applicable=report.not_applicable(),
        item_condition=item.get("condition") or "not recorded",
        item_received=item.get("received") or "not recorded",
        method_line=_join([", ".join(f"{std}:{'/'.join(eds)}" for std, eds in
                                     standards.items()),
                           plan.get("sha256") and f"plan SHA-256 {plan['sha256'][:12]}",
                           plan.get("rig_version") and f"STS Rig {plan['rig_version']}"],
                          "; ") or "not recorded",
        conditions_line=conditions or "not recorded for this run",
        rule_short=f"{rule} acceptance, ILAC G8:09/2019 "
                   + ("(guard band w = U)" if rule == "guarded" else "(w = 0)"),
        signatory=signatory,
        signatory_line=_join([signatory.get("name"), signatory.get("function")], ", ")
        or "not named for this run",
        spec_note=spec_note,
        own_rules=sorted({(row.rule, rule_text(row.rule)) for t in tests for row in t.rows
                          if row.rule}),
        r=report, title=title, issued=issued.isoformat(timespec="seconds"),
        page_css=page_css(report, title), style=STYLE, emulated_stamp=EMULATED_STAMP,
        verdict=verdict, verdict_note=report.verdict_note(), rule_name=rule,
        rule_text=rule_text(rule),
        lab_line=_join([lab.get("name") or "laboratory not named", lab.get("address"),
                        lab.get("accreditation") and f"accreditation {lab['accreditation']}"],
                       "; "),
        customer_line=_join([customer.get("name") or "customer not named",
                             customer.get("address"), customer.get("contact")], "; "),
        item_line=_join([item.get("maker"), item.get("model"),
                         item.get("serial") and f"meter number {item['serial']}",
                         item.get("pan") and f"PAN {item['pan']}",
                         (item.get("firmware") or meter.get("firmware")) and
                         f"firmware {item.get('firmware') or meter.get('firmware')}"], ", ")
        or f"PAN {meter.get('pan')}",
        operator=operator,
        counts=sorted(report.counts().items()), matrix=matrix,
        matrix_summary=", ".join(f"{n} {v}" for v, n in sorted(summary.items()))
        or "no clauses",
        failures=report.failures(), conditional=report.conditional(),
        near=report.near_limit(),
        lab_rows=lab_rows, item_rows=[(k, v) for k, v in item_rows if v],
        standards=report.standards(), plan_rows=plan_rows,
        condition_rows=_conditions(ctx),
        budgets=budget_rows(tests),
        spec_rows=spec_rows, identity=identity_rows(start.get("identity") or {}),
        tests=tests, declared=declared, left_out_groups=sorted(groups.items()),
        clauses_left_out=clauses_left_out, hidden=sorted(hidden), statements=STATEMENTS,
        declared_for=declared_for, shown=shown, fig=_fig, range_units=FUNCTION_UNITS,
        local=lambda iso: local_time(iso, offset))
