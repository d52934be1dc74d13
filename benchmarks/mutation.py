"""Mutation score of the conformance plans: how many small, unchosen firmware mistakes they catch.

Run by hand, not in CI (a mutant costs a whole plan run):

    nice -n 10 .venv/bin/python benchmarks/mutation.py --sample 200 --seed 16 --jobs 2 \
        [--stop-at 22:05] [--profile pln_default] [-- --ignore=testplans/test_x.py]
    nice -n 10 .venv/bin/python benchmarks/mutation.py --list --seed 16 --sample 30
    nice -n 10 .venv/bin/python benchmarks/mutation.py --only MUTANT_ID [--only ...] \
        --no-coverage -- -k test_name          # one mutant against one test, quickly
    nice -n 10 .venv/bin/python benchmarks/mutation.py --rerun /tmp/mutation/X.json \
        --no-coverage -- -k test_protocol_rules # its survivors (and the mutants no
                                                # plan line reached) against new tests
    nice -n 10 .venv/bin/python benchmarks/mutation.py --resume /tmp/mutation/X.json \
        --jobs 4                                # the runs X's --stop-at left out
    nice -n 10 .venv/bin/python benchmarks/mutation.py --relabel /tmp/mutation/X.json \
        [--merge /tmp/mutation/Y.json] --write-md   # today's equivalence rules (and the
                                                # kills of a --rerun of X, or the runs of
                                                # a --resume of X), the summary

The faults of `rig emulate --list-faults` were each written beside the test that catches them,
so catching them proves little. Here the mistakes are made by a small AST mutator nobody steers:
flipped comparisons (and their boundaries), constants off by one or by a factor, dropped
statements, swapped if/else branches, negated conditions, and/or swapped, +/- and *// swapped.
A seeded random sample of them is applied, one at a time, to a private copy of the project's
packages (one copy per worker under /tmp/mutation/work/), and `rig run -x` runs the plan from
that copy with the copy first on PYTHONPATH, so the emulator `rig run` starts as its child runs
the mutated meter too. The working tree is never written.

Each mutant ends as one of:
  killed      the plan failed (the first failed test is named)
  timeout     the plan did not end within --timeout-factor x the clean run (a kill by timeout)
  survived    the plan passed
  uncovered   the mutated line never ran in a clean plan run (coverage.py, --coverage): the
              plan cannot see it, so it is a survivor found without a run
  equivalent  listed in mutation_equivalent.toml with the reason it cannot change the meter's
              behaviour (code only reached by logging, dead code, ...): left out of the score;
              a run that failed such a mutant is no kill (--relabel says so and counts it
              equivalent: a flaky test, or a plan that fails a compliant meter)
score = (killed + timeout) / (total - equivalent), per profile.

Every mutant (file, line, operator, before/after, outcome per profile) goes to a JSON file under
--out (/tmp/mutation by default); the table is printed and, with --write-md, written to
benchmarks/mutation_results.md.
"""

from __future__ import annotations

import argparse
import ast
import copy
import hashlib
import json
import os
import random
import shutil
import signal
import subprocess
import sys
import threading
import time
import tomllib
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path
from queue import Empty, Queue
from typing import Any

ROOT = Path(__file__).resolve().parent.parent

#: what a worker's copy of the project holds (packages, plans, the pytest configuration)
COPIED = ("rig", "emulator", "sts", "drivers", "meterprofile", "firmware", "testplans",
          "conftest.py", "pyproject.toml")

#: the emulated meter's behaviour code; emulator/model.py may be split into the meter's
#: firmware and the bench's physics: every file that exists of these is mutated
DEFAULT_FILES = ("emulator/model.py", "emulator/firmware.py", "emulator/meter_firmware.py",
                 "emulator/firmware/*.py", "emulator/optical.py", "sts/validator.py")

PROFILES = ("pln_default", "pln_minimal")

#: mutants that cannot change what the meter does, each with the reason: data, kept beside
#: this file (keyed by content, not by line; see its header)
EQUIVALENT_FILE = Path(__file__).resolve().with_name("mutation_equivalent.toml")


def load_equivalent(path: Path = EQUIVALENT_FILE) -> list[dict[str, Any]]:
    """The equivalence rules; a rule without a file or a reason is an error naming it."""
    rules = tomllib.loads(path.read_text()).get("rule", [])
    for n, rule in enumerate(rules, 1):
        missing = [k for k in ("file", "reason") if k not in rule]
        if missing:
            raise ValueError(f"{path.name}: rule {n} has no {' and no '.join(missing)}")
    return rules


EQUIVALENT: list[dict[str, Any]] = load_equivalent()

LOG_METHODS = {"debug", "info", "warning", "error", "exception", "critical", "log"}

NEGATED = {ast.Lt: ast.GtE, ast.LtE: ast.Gt, ast.Gt: ast.LtE, ast.GtE: ast.Lt,
           ast.Eq: ast.NotEq, ast.NotEq: ast.Eq, ast.In: ast.NotIn, ast.NotIn: ast.In,
           ast.Is: ast.IsNot, ast.IsNot: ast.Is}
BOUNDARY = {ast.Lt: ast.LtE, ast.LtE: ast.Lt, ast.Gt: ast.GtE, ast.GtE: ast.Gt}
ARITH = {ast.Add: ast.Sub, ast.Sub: ast.Add, ast.Mult: ast.Div, ast.Div: ast.Mult,
         ast.FloorDiv: ast.Mult}
DROPPABLE = (ast.Assign, ast.AugAssign, ast.AnnAssign, ast.Expr, ast.Return, ast.Raise,
             ast.If, ast.For, ast.While, ast.With, ast.Try, ast.Continue, ast.Break,
             ast.Assert, ast.Delete)


@dataclass
class Mutant:
    """One small change to one file, found by walking its AST."""

    id: str
    file: str
    line: int
    operator: str
    before: str
    after: str
    function: str
    statement: str = ""
    path: tuple[tuple[str, int], ...] = field(repr=False, default=())
    variant: int = 0
    #: how many mutants before this one in the file have the same key (two equal constants of
    #: one statement): with it the key names one mutant
    nth: int = 0
    outcomes: dict[str, dict] = field(default_factory=dict)


# --------------------------------------------------------------------------- the mutator


def _children(node: ast.AST) -> Iterator[tuple[str, int, ast.AST]]:
    for name, value in ast.iter_fields(node):
        if isinstance(value, list):
            for i, item in enumerate(value):
                if isinstance(item, ast.AST):
                    yield name, i, item
        elif isinstance(value, ast.AST):
            yield name, -1, value


def _walk(tree: ast.AST, path: tuple[tuple[str, int], ...]) -> Iterator[tuple[ast.AST, str,
                                                                             ast.AST]]:
    """(parent, field name, child) for every step down `path` from `tree`: the one walk
    both `_at` and `equivalent_reason` take."""
    node = tree
    for name, i in path:
        value = getattr(node, name)
        child = value[i] if i >= 0 else value
        yield node, name, child
        node = child


def _at(tree: ast.AST, path: tuple[tuple[str, int], ...]) -> ast.AST:
    steps = list(_walk(tree, path))
    return steps[-1][2] if steps else tree


def _replace(tree: ast.AST, path: tuple[tuple[str, int], ...], new: ast.AST) -> None:
    parent = _at(tree, path[:-1])
    name, i = path[-1]
    if i >= 0:
        getattr(parent, name)[i] = new
    else:
        setattr(parent, name, new)


def _is_docstring(node: ast.AST, parent: ast.AST | None, index: int) -> bool:
    return (index == 0 and isinstance(node, ast.Expr) and isinstance(node.value, ast.Constant)
            and isinstance(node.value.value, str)
            and isinstance(parent, (ast.Module, ast.ClassDef, ast.FunctionDef,
                                    ast.AsyncFunctionDef)))


def _is_log_call(node: ast.AST) -> bool:
    return (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)
            and node.func.attr in LOG_METHODS and isinstance(node.func.value, ast.Name)
            and node.func.value.id in {"log", "logger", "_log", "LOG"})


def _text(node: ast.AST) -> str:
    text = ast.unparse(node).splitlines()
    first = text[0] if text else ""
    return first if len(text) == 1 else first + " ..."


def _variants(node: ast.AST, in_function: bool, parent: ast.AST | None,
              index: int) -> Iterator[tuple[str, ast.AST]]:
    """(operator, mutated copy of node) for every mutation of this very node."""
    if isinstance(node, ast.Compare):
        for i, op in enumerate(node.ops):
            for table, name in ((NEGATED, "flip-compare"), (BOUNDARY, "boundary")):
                if type(op) in table:
                    new = copy.deepcopy(node)
                    new.ops[i] = table[type(op)]()
                    yield name, new
    elif isinstance(node, ast.Constant) and not isinstance(node.value, (str, bytes)):
        value = node.value
        if isinstance(value, bool):
            yield "constant", ast.Constant(not value)
        elif isinstance(value, int):
            yield "constant+1", ast.Constant(value + 1)
            yield "constant-1", ast.Constant(value - 1)
        elif isinstance(value, float):
            if value == 0.0:
                yield "constant+1", ast.Constant(1.0)
            else:
                yield "constant*2", ast.Constant(value * 2)
                yield "constant/2", ast.Constant(value / 2)
    elif isinstance(node, ast.BoolOp):
        new = copy.deepcopy(node)
        new.op = ast.Or() if isinstance(node.op, ast.And) else ast.And()
        yield "and-or", new
    elif isinstance(node, (ast.BinOp, ast.AugAssign)) and type(node.op) in ARITH:
        new = copy.deepcopy(node)
        new.op = ARITH[type(node.op)]()
        yield "arith", new
    elif isinstance(node, ast.IfExp):
        yield "swap-branches", ast.IfExp(test=node.test, body=node.orelse, orelse=node.body)
        yield "negate", ast.IfExp(test=ast.UnaryOp(ast.Not(), node.test), body=node.body,
                                  orelse=node.orelse)
    if isinstance(node, ast.If):
        if node.orelse:
            yield "swap-branches", ast.If(test=node.test, body=node.orelse, orelse=node.body)
        yield "negate", ast.If(test=ast.UnaryOp(ast.Not(), node.test), body=node.body,
                               orelse=node.orelse)
    elif isinstance(node, ast.While):
        yield "negate", ast.While(test=ast.UnaryOp(ast.Not(), node.test), body=node.body,
                                  orelse=node.orelse)
    if (in_function and isinstance(node, DROPPABLE) and isinstance(parent, ast.stmt | ast.mod
                                                                   | ast.excepthandler)
            and not _is_docstring(node, parent, index)):
        yield "drop-statement", ast.Pass()


def enumerate_mutants(rel: str, source: str) -> list[Mutant]:
    """Every mutant of one file, in a fixed order."""
    tree = ast.parse(source)
    found: list[Mutant] = []

    def walk(node: ast.AST, path: tuple, function: str, in_def: bool,
             parent: ast.AST | None, index: int, statement: str) -> None:
        if _is_docstring(node, parent, index) or isinstance(node, (ast.Import,
                                                                   ast.ImportFrom)):
            return
        if isinstance(node, ast.stmt):
            statement = _text(node)
        if path:
            for n, (operator, new) in enumerate(_variants(node, in_def, parent, index)):
                ast.copy_location(new, node)
                if ast.dump(new) == ast.dump(node):
                    continue  # no change (e.g. `not x` negated is still a change; 0 * 2 not)
                after = _text(new)
                if operator == "swap-branches" and isinstance(node, ast.If):
                    after = _text(node).removesuffix(" ...") + " (if and else swapped)"
                found.append(Mutant(
                    id=f"{rel}:{getattr(node, 'lineno', 0)}:{operator}:{len(found)}",
                    file=rel, line=getattr(node, "lineno", 0), operator=operator,
                    before=_text(node), after=after, function=function or "<module>",
                    statement=statement, path=path, variant=n))
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            function = f"{function}.{node.name}" if function else node.name
            in_def = not isinstance(node, ast.ClassDef)
        for name, i, child in _children(node):
            if name in {"annotation", "returns", "decorator_list", "type_comment"}:
                continue
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)) and name == "args":
                continue  # default values are constants of the signature, mutated where used
            walk(child, (*path, (name, i)), function, in_def, node, i, statement)

    for name, i, child in _children(tree):
        walk(child, ((name, i),), "", False, tree, i, "")
    seen: dict[tuple[str, ...], int] = {}
    for n, m in enumerate(found):
        m.id = f"{rel}:{m.line}:{m.operator}:{n}"
        same = (m.function, m.statement, m.operator, m.before, m.after)
        m.nth = seen.get(same, 0)
        seen[same] = m.nth + 1
    return found


def apply(source: str, mutant: Mutant) -> str:
    """The file's text with the one mutant applied (the whole module unparsed)."""
    tree = ast.parse(source)
    node = _at(tree, mutant.path)
    variants = list(_variants(node, True, _at(tree, mutant.path[:-1]), mutant.path[-1][1]))
    ops = [(op, new) for op, new in variants if op == mutant.operator]
    if not ops:
        raise ValueError(f"{mutant.id}: the file changed, the mutant is gone")
    if mutant.variant < len(variants) and variants[mutant.variant][0] == mutant.operator:
        new = variants[mutant.variant][1]  # the same walk found it: the same index
    else:
        match = [new for op, new in ops if _text(new) == mutant.after]
        new = match[0] if match else ops[0][1]
    ast.copy_location(new, node)
    _replace(tree, mutant.path, new)
    return ast.unparse(ast.fix_missing_locations(tree)) + "\n"


def equivalent_reason(m: Mutant, source_tree: ast.AST, profile: str = "") -> str | None:
    """Why the mutant cannot change the meter's behaviour (on `profile`), or None."""
    for rule in EQUIVALENT:
        if rule.get("profile", profile) != profile:
            continue
        if (rule["file"] == m.file and rule.get("function", m.function) == m.function
                and m.statement.startswith(rule.get("statement", ""))
                and not m.statement.startswith(tuple(rule.get("not_statement", [])))
                and rule.get("operator", m.operator) == m.operator
                and m.operator in rule.get("operators", [m.operator])
                and rule.get("before", m.before) == m.before
                and rule.get("after", m.after) == m.after
                and ("parent" not in rule or (m.path and ast.unparse(
                    _at(source_tree, m.path[:-1])).startswith(rule["parent"])))
                and ("parent_is" not in rule or (m.path and ast.unparse(
                    _at(source_tree, m.path[:-1])) == rule["parent_is"]))
                and ("field" not in rule or (m.path and m.path[-1][0] == rule["field"]))
                and ("inside" not in rule or any(
                    name == "body" and isinstance(parent, ast.If)
                    and ast.unparse(parent.test) == rule["inside"]
                    for parent, name, _ in _walk(source_tree, m.path)))):
            return rule["reason"]
    for parent, name, node in _walk(source_tree, m.path):
        if name == "body" and isinstance(parent, (ast.If, ast.IfExp)):
            fault = _fault_switch(parent.test)
            if fault:
                return (f"runs only with the emulator fault {fault!r} switched on: dead code "
                        "for the clean meter (the fault table checks that code, not this "
                        "score)")
        if _is_log_call(node):
            return "only reached in a log line (the log's text, not the meter's behaviour)"
    target = _at(source_tree, m.path)
    if isinstance(target, ast.Expr) and _is_log_call(target.value):
        return "drops a log line (the log's text, not the meter's behaviour)"
    if (m.operator == "drop-statement" and isinstance(target, ast.If) and not target.orelse
            and _fault_switch(target.test)):
        return (f"drops a branch taken only with the emulator fault "
                f"{_fault_switch(target.test)!r} switched on (no else): dead code for the "
                "clean meter (the fault table checks that code, not this score)")
    return None


def _fault_switch(test: ast.AST) -> str | None:
    """The fault name when `test` holds only while an emulator fault is on: `'name' in
    <...>.faults`, alone or as one term of an `and`."""
    terms = test.values if isinstance(test, ast.BoolOp) and isinstance(test.op, ast.And) \
        else [test]
    for term in terms:
        if (isinstance(term, ast.Compare) and len(term.ops) == 1
                and isinstance(term.ops[0], ast.In) and isinstance(term.left, ast.Constant)
                and isinstance(term.left.value, str)
                and ast.unparse(term.comparators[0]).endswith("faults")):
            return term.left.value
    return None


def _key(m: Mutant) -> tuple[str | int, ...]:
    return (m.file, m.function, m.statement, m.operator, m.before, m.after, m.nth)


def resolve_files(patterns: list[str]) -> list[str]:
    out: list[str] = []
    for pattern in patterns:
        for path in sorted(ROOT.glob(pattern)):
            rel = str(path.relative_to(ROOT))
            if path.is_file() and rel not in out and path.name != "__init__.py":
                out.append(rel)
    return out


def all_mutants(files: list[str]) -> list[Mutant]:
    out: list[Mutant] = []
    for rel in files:
        out.extend(enumerate_mutants(rel, (ROOT / rel).read_text()))
    return out


# --------------------------------------------------------------------------- running


def make_tree(dest: Path) -> Path:
    """A private copy of the project's packages and plans; the copy goes first on PYTHONPATH."""
    if dest.exists():
        shutil.rmtree(dest)
    dest.mkdir(parents=True)
    ignore = shutil.ignore_patterns("__pycache__", "*.pyc")
    for name in COPIED:
        src = ROOT / name
        if src.is_dir():
            shutil.copytree(src, dest / name, ignore=ignore)
        elif src.exists():
            shutil.copy2(src, dest / name)
    # coverage of every process of a run, when COVERAGE_PROCESS_START names a config
    (dest / "sitecustomize.py").write_text(
        "import os\n"
        "if os.environ.get('COVERAGE_PROCESS_START'):\n"
        "    import coverage\n"
        "    coverage.process_startup()\n")
    return dest


def _drop_pyc(tree: Path, rel: str) -> None:
    src = tree / rel
    for pyc in (src.parent / "__pycache__").glob(f"{src.stem}.*.pyc"):
        pyc.unlink(missing_ok=True)


def first_failure(run_base: Path) -> str:
    """The first failed or errored test of the run under run_base, with its reason."""
    for record in sorted(run_base.glob("*/results.jsonl")):
        for line in record.read_text(errors="replace").splitlines():
            try:
                item = json.loads(line)
            except ValueError:
                continue
            if item.get("kind") == "test" and item.get("outcome") in {"failed", "error"}:
                reason = str(item.get("reason", ""))[:160].replace("\n", " ")
                return f"{item.get('test', '?').split('::')[-1]} ({item.get('phase')}): {reason}"
            if item.get("kind") == "run_end" and item.get("reason"):
                return f"run: {str(item['reason'])[:160]}"
    return ""


def run_plan(tree: Path, profile: str, reports: Path, timeout_s: float, plan_args: list[str],
             env_extra: dict[str, str] | None = None) -> tuple[str, float, int, str]:
    """(outcome, seconds, exit code, detail) of one `rig run -x` from the tree."""
    if reports.exists():
        shutil.rmtree(reports)
    reports.mkdir(parents=True)
    env = dict(os.environ, PYTHONPATH=str(tree), PYTHONDONTWRITEBYTECODE="1")
    env.pop("COVERAGE_PROCESS_START", None)
    env.update(env_extra or {})
    cmd = [sys.executable, "-m", "rig", "run", "--reports", str(reports), "--progress", "off",
           "--profile", profile, "-x", *plan_args]
    start = time.monotonic()
    proc = subprocess.Popen(cmd, cwd=tree, env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, start_new_session=True)
    try:
        out, _ = proc.communicate(timeout=timeout_s)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGTERM)  # rig run passes it on: a clean stop
        try:
            proc.communicate(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.communicate()
        return "timeout", time.monotonic() - start, -1, f"no end within {timeout_s:.0f} s"
    took = time.monotonic() - start
    text = out.decode(errors="replace")
    if proc.returncode == 0:
        return "survived", took, 0, ""
    said = [line.strip() for line in text.splitlines()
            if line.startswith(("FAILED", "ERROR", "rig run:", "E   "))]
    detail = first_failure(reports) or " / ".join(said[:3])[:300]
    return "killed", took, proc.returncode, detail


def covered_lines(tree: Path, profile: str, out: Path, files: list[str],
                  plan_args: list[str]) -> tuple[dict[str, set[int]], float]:
    """The lines of the mutated files a clean run executes (every process), and its time."""
    import coverage

    data_dir = out / f"coverage-{profile}"
    if data_dir.exists():
        shutil.rmtree(data_dir)
    data_dir.mkdir(parents=True)
    rc = data_dir / "coveragerc"
    rc.write_text("[run]\nparallel = true\nsigterm = true\n"
                  f"data_file = {data_dir / '.coverage'}\n"
                  f"include =\n" + "".join(f"    {tree / f}\n" for f in files))
    outcome, took, code, detail = run_plan(tree, profile, out / f"clean-cov-{profile}", 1800,
                                           plan_args, {"COVERAGE_PROCESS_START": str(rc)})
    if outcome != "survived":
        raise SystemExit(f"the clean plan does not pass on {profile} ({outcome}, exit {code}): "
                         f"{detail}; a mutation score means nothing against it")
    cov = coverage.Coverage(data_file=str(data_dir / ".coverage"), config_file=False)
    cov.combine([str(data_dir)], keep=True)
    data = cov.get_data()
    lines = {f: set(data.lines(str(tree / f)) or ()) for f in files}
    return lines, took


def node_lines(m: Mutant, trees: dict[str, ast.AST]) -> set[int]:
    node = _at(trees[m.file], m.path)
    start = getattr(node, "lineno", m.line)
    if isinstance(node, ast.stmt) and not isinstance(node, (ast.If, ast.While, ast.For)):
        end = getattr(node, "end_lineno", start) or start
        return set(range(start, end + 1))
    return {start}


def worker(n: int, tree: Path, queue: Queue, out: Path, timeouts: dict[str, float],
           plan_args: list[str], sources: dict[str, str], lock: threading.Lock,
           progress: list[int], total: int, stop_at: float | None = None,
           save: Any = None) -> None:
    while True:
        if stop_at is not None and time.time() > stop_at:
            return
        try:
            profile, m, label = queue.get_nowait()
        except Empty:
            return
        if label is not None:  # judged without a run
            m.outcomes[profile] = label
            continue
        target = tree / m.file
        try:
            target.write_text(apply(sources[m.file], m))
            _drop_pyc(tree, m.file)
            outcome, took, code, detail = run_plan(
                tree, profile, out / "runs" / f"w{n}", timeouts[profile], plan_args)
        except ValueError as exc:
            outcome, took, code, detail = "error", 0.0, -1, str(exc)
        finally:
            target.write_text(sources[m.file])
            _drop_pyc(tree, m.file)
        m.outcomes[profile] = {"outcome": outcome, "seconds": round(took, 1), "exit": code,
                               "detail": detail}
        with lock:
            progress[0] += 1
            print(f"[{progress[0]}/{total}] w{n} {profile:11s} {outcome:8s} {took:6.1f}s "
                  f"{m.id}  {m.before!r} -> {m.after!r}  {detail[:90]}", flush=True)
        if save is not None:
            save()


# --------------------------------------------------------------------------- report


def judged(mutants: list[Mutant], profiles: list[str], meta: dict) -> list[Mutant]:
    """The mutants a run judged. A run of before the random order labelled every mutant that
    needs no run at its start and ran the rest in file/line order: what it judged is the
    prefix up to its last run (a part of the sample in file order, not a random one)."""
    if meta.get("order") == "random" or meta.get("only"):
        return [m for m in mutants if all(p in m.outcomes for p in profiles)]
    ran = [i for i, m in enumerate(mutants)
           if any("exit" in o for o in m.outcomes.values())]  # run (whatever its label now)
    end = ran[-1] + 1 if ran else 0
    return [m for m in mutants[:end] if all(p in m.outcomes for p in profiles)]


def table(mutants: list[Mutant], profiles: list[str]) -> list[dict]:
    rows = []
    for profile in profiles:
        outs = [m.outcomes[profile]["outcome"] for m in mutants if profile in m.outcomes]
        count = {k: outs.count(k) for k in ("killed", "timeout", "survived", "uncovered",
                                            "equivalent", "error")}
        scored = len(outs) - count["equivalent"] - count["error"]
        score = (count["killed"] + count["timeout"]) / scored if scored else 0.0
        rows.append({"profile": profile, "total": len(outs), **count, "score": score})
    return rows


def format_table(rows: list[dict]) -> str:
    head = ("| profile | total | killed | timed out | survived | not covered | equivalent "
            "| score |\n|---|---|---|---|---|---|---|---|\n")
    return head + "".join(
        f"| {r['profile']} | {r['total']} | {r['killed']} | {r['timeout']} | {r['survived']} "
        f"| {r['uncovered']} | {r['equivalent']} | {100 * r['score']:.1f} % |\n" for r in rows)


def markdown(meta: dict, mutants: list[Mutant], profiles: list[str]) -> str:
    mutants = judged(mutants, profiles, meta)
    rows = table(mutants, profiles)
    made = len(mutants)
    order = meta.get("order") or ("file and line: the judged ones are the first in file order, "
                                  "not a random part of the sample")
    lines = ["# Mutation score of the conformance plans", "",
             "Written by `benchmarks/mutation.py` (run by hand, see its docstring). "
             f"Seed {meta['seed']}, sample {meta['sample']} of {meta['population']} mutants "
             f"of {', '.join(meta['files'])} (file SHA-256 prefixes "
             f"{meta.get('file_sha256', {})}); commit {meta['commit']}; started "
             f"{meta['started']}; `rig run -x` arguments {meta.get('plan_args') or 'none'}; "
             f"clean plan {meta.get('clean_seconds')} s (under coverage.py), a mutant timed "
             f"out after {meta.get('timeout_seconds')} s.",
             "",
             "score = (killed + timed out) / (total - equivalent). A mutant on a line the "
             "clean plan never runs (coverage.py over every process of a clean run) is "
             "counted as a survivor (not covered) without a run. A kill is the first failed "
             "test of a run: on a loaded machine a timing test can fail by chance, so a few "
             "kills may be flukes (each names its test in the JSON).",
             f"Mutants judged: {made} of the {meta['sample']} drawn (those not reached before "
             f"--stop-at {meta.get('stop_at')} are left out of the table; "
             f"order: {order})."
             + (f" Relabelled {meta['relabelled']} with the equivalence rules of then."
                if meta.get("relabelled") else "")
             + (f" Rerun: {meta['rerun']}; each such kill says so in the JSON."
                if meta.get("rerun") else ""),
             "", format_table(rows), "", "## Survivors and not covered", ""]
    for m in mutants:
        outs = {p: m.outcomes.get(p, {}).get("outcome") for p in profiles}
        if any(o in {"survived", "uncovered"} for o in outs.values()):
            lines.append(f"- `{m.id}` in `{m.function}`: `{m.before}` -> `{m.after}` "
                         f"({', '.join(f'{p}: {o}' for p, o in outs.items())})")
    lines += ["", "## Equivalent", ""]
    for m in mutants:
        reasons = {o.get("detail") for o in m.outcomes.values()
                   if o.get("outcome") == "equivalent"}
        if reasons:
            lines.append(f"- `{m.id}` in `{m.function}`: `{m.before}` -> `{m.after}`: "
                         f"{'; '.join(sorted(reasons))}")
    return "\n".join(lines) + "\n"


# --------------------------------------------------------------------------- main


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--files", nargs="+", default=list(DEFAULT_FILES),
                   help="files (globs, relative to the project) to mutate")
    p.add_argument("--seed", type=int, default=16)
    p.add_argument("--sample", type=int, default=200, help="mutants drawn (0: all)")
    p.add_argument("--profile", action="append", dest="profiles",
                   help=f"profile to run (repeatable; default {' and '.join(PROFILES)})")
    p.add_argument("--jobs", type=int, default=2, help="parallel workers (a plan run each)")
    p.add_argument("--timeout-factor", type=float, default=3.0,
                   help="a mutant's run is timed out after this many clean-run times")
    p.add_argument("--coverage", action=argparse.BooleanOptionalAction, default=True,
                   help="run a clean plan under coverage.py first and do not run mutants on "
                        "lines it never executes (they are counted as not covered)")
    p.add_argument("--out", type=Path, default=Path("/tmp/mutation"))
    p.add_argument("--only", action="append", default=[], metavar="ID",
                   help="run only this mutant (repeatable; ids from --list or a JSON)")
    p.add_argument("--rerun", type=Path, metavar="JSON",
                   help="run again the survivors of an earlier JSON (e.g. against new tests: "
                        "-- -k NAME)")
    p.add_argument("--resume", type=Path, metavar="JSON",
                   help="run the mutants an earlier JSON left unjudged (--stop-at); merge "
                        "the two with --relabel JSON --merge NEW")
    p.add_argument("--relabel", type=Path, metavar="JSON",
                   help="apply the equivalence rules of today to an earlier JSON's survivors "
                        "(nothing is run), print its table and save it beside")
    p.add_argument("--merge", type=Path, metavar="JSON",
                   help="with --relabel: take the kills of a --rerun JSON (its survivors run "
                        "again against new tests) into the relabelled run")
    p.add_argument("--list", action="store_true", help="list the sample and stop")
    p.add_argument("--show", metavar="ID", help="print the mutated function of one mutant")
    p.add_argument("--stop-at", metavar="HH:MM",
                   help="start no mutant run after this time (UTC); the rest is left out")
    p.add_argument("--write-md", action="store_true",
                   help="write the table and the lists to benchmarks/mutation_results.md")
    p.add_argument("plan_args", nargs="*", help="after --: more arguments for `rig run`")
    return p.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    files = resolve_files(args.files)
    profiles = args.profiles or list(PROFILES)
    sources = {f: (ROOT / f).read_text() for f in files}
    trees = {f: ast.parse(s) for f, s in sources.items()}
    population = all_mutants(files)
    by_id = {m.id: m for m in population}
    if args.relabel:
        return relabel(args, population, trees)
    if args.rerun:  # its survivors, and the mutants no plan line reached
        args.only += ids_again(args.rerun, population, lambda x, profiles: any(
            o.get("outcome") in ("survived", "uncovered") for o in x["outcomes"].values()))
    if args.resume:  # the same sample, the runs a --stop-at left out
        args.only += ids_again(args.resume, population, lambda x, profiles: any(
            p not in x["outcomes"] for p in profiles))
    if args.only:
        missing = [i for i in args.only if i not in by_id]
        if missing:
            print(f"mutation: no such mutant (the file changed?): {', '.join(missing)}",
                  file=sys.stderr)
        sample = [by_id[i] for i in args.only if i in by_id]
    elif args.sample and args.sample < len(population):
        sample = random.Random(args.seed).sample(population, args.sample)
        sample.sort(key=lambda m: (m.file, m.line, m.id))
    else:
        sample = list(population)
    print(f"{len(population)} mutants in {', '.join(files)}; {len(sample)} drawn "
          f"(seed {args.seed})", flush=True)
    if args.show:
        m = by_id[args.show]
        print(f"{m.id} in {m.function}: {m.before!r} -> {m.after!r}")
        return 0
    if args.list:
        for m in sample:
            why = equivalent_reason(m, trees[m.file])
            print(f"{m.id:55s} {m.function:32s} {m.before!r} -> {m.after!r}"
                  + (f"   [equivalent: {why}]" if why else ""))
        return 0

    out = args.out
    out.mkdir(parents=True, exist_ok=True)
    workers = [make_tree(out / "work" / f"w{n}" / "tree") for n in range(max(1, args.jobs))]
    started = time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())
    clean = clean_runs(args, workers, profiles, files, out)
    if any(isinstance(c, str) for c in clean.values()):
        for profile, why in clean.items():
            if isinstance(why, str):
                print(f"mutation: the clean plan fails on {profile}: {why}; a mutation score "
                      "means nothing against it", file=sys.stderr)
        return 1
    timeouts = {p: max(args.timeout_factor * took, took + 60)
                for p, (took, _lines) in clean.items()}
    # in a seeded random order, both profiles of a mutant one after the other, and a mutant
    # that needs no run (equivalent, not covered) judged when its turn comes: the mutants
    # judged when --stop-at ends the run are a random part of the sample
    pending: list[tuple[str, Mutant, dict | None]] = []
    for m in random.Random(args.seed + 1).sample(sample, len(sample)):
        for profile in profiles:
            lines = clean[profile][1]
            why = equivalent_reason(m, trees[m.file], profile)
            if why:
                pending.append((profile, m, {"outcome": "equivalent", "detail": why}))
            elif lines is not None and not (node_lines(m, trees) & lines[m.file]):
                pending.append((profile, m, {"outcome": "uncovered",
                                             "detail": "the clean plan never runs this line"}))
            else:
                pending.append((profile, m, None))
    queue: Queue = Queue()
    for item in pending:
        queue.put(item)

    commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT,
                            capture_output=True, text=True).stdout.strip()
    dirty = subprocess.run(["git", "status", "--porcelain", *files], cwd=ROOT,
                           capture_output=True, text=True).stdout.strip()
    meta = {"seed": args.seed, "sample": len(sample), "population": len(population),
            "files": files, "profiles": profiles,
            "clean_seconds": {p: round(c[0], 1) for p, c in clean.items()},
            "timeout_seconds": {p: round(t) for p, t in timeouts.items()},
            "commit": commit + ("+local edits" if dirty else ""), "started": started,
            "plan_args": args.plan_args, "only": bool(args.only), "stop_at": args.stop_at,
            "coverage": args.coverage, "order": "random",
            "file_sha256": {f: hashlib.sha256(sources[f].encode()).hexdigest()[:16]
                            for f in files}}
    name = out / f"mutation-seed{args.seed}-n{len(sample)}-{time.strftime('%H%M%S')}.json"
    lock, progress = threading.Lock(), [0]

    def save() -> None:
        with lock:
            record = {"meta": meta, "table": table(judged(sample, profiles, meta), profiles),
                      "mutants": [{k: v for k, v in asdict(m).items() if k != "path"}
                                  for m in sample]}
            name.write_text(json.dumps(record, indent=1))

    stop_at = _stop_time(args.stop_at)
    threads = [threading.Thread(target=worker, args=(n, tree, queue, out, timeouts,
                                                     args.plan_args, sources, lock, progress,
                                                     sum(x[2] is None for x in pending),
                                                     stop_at, save),
                                daemon=True)
               for n, tree in enumerate(workers)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    save()
    print()
    print(format_table(table(judged(sample, profiles, meta), profiles)))
    unrun = sum(p not in m.outcomes for m in sample for p in profiles)
    if unrun:
        print(f"{unrun} mutant runs not made (--stop-at {args.stop_at}): left out of the table")
    print(f"every mutant: {name}")
    if args.write_md:
        (ROOT / "benchmarks" / "mutation_results.md").write_text(
            markdown(meta, sample, profiles))
        print("summary: benchmarks/mutation_results.md")
    return 0


def ids_again(path: Path, population: list[Mutant],
              wanted: Callable[[dict, list[str]], bool]) -> list[str]:
    """Today's ids of the mutants of an earlier JSON that `wanted(mutant, its profiles)`
    picks, found again by content: the ids move when a file is edited."""
    old = json.loads(path.read_text())
    by_key = {_key(m): m.id for m in population}
    return [by_key.get(_key(Mutant(**x)), x["id"]) for x in old["mutants"]
            if wanted(x, old["meta"]["profiles"])]


def relabel(args: argparse.Namespace, population: list[Mutant],
            trees: dict[str, ast.AST]) -> int:
    """An earlier run's mutants judged again by today's equivalence rules: a survivor or a
    mutant not covered that a rule names is equivalent; so is a killed one, its failure
    printed (a flaky test, a plan failing a compliant meter, or a rule to correct)."""
    record = json.loads(args.relabel.read_text())
    by_key = {_key(m): m for m in population}
    by_text = {_key(m)[:2] + _key(m)[3:]: m for m in population}  # JSON of before "statement"
    mutants = [Mutant(**x) for x in record["mutants"]]
    if args.merge:  # first: a resumed run's survivors are judged by today's rules too
        merged = merge_rerun(mutants, json.loads(args.merge.read_text()))
        said = (f"the survivors run again against the plans of a later tree or the runs "
                f"left out, resumed ({args.merge.name}): {merged} killed or filled in")
        before = record["meta"].get("rerun")
        record["meta"]["rerun"] = f"{before}; then {said}" if before else said
    hashes = record["meta"].get("file_sha256", {})
    unchanged = {f for f in trees if hashes.get(f) == hashlib.sha256(
        (ROOT / f).read_bytes()).hexdigest()[:16]}  # there, an id names the same mutant
    by_id = {m.id: m for m in population if m.file in unchanged}
    doubtful = []
    for m in mutants:
        now = (by_id.get(m.id) or by_key.get(_key(m))
               or by_text.get(_key(m)[:2] + _key(m)[3:]))
        if now is not None:
            m.nth = now.nth
        for profile, outcome in m.outcomes.items():
            why = (equivalent_reason(now, trees[now.file], profile)
                   if now and now.file in trees else None)
            if why and outcome["outcome"] in {"survived", "uncovered"}:
                outcome.update(outcome="equivalent", detail=why)
            elif why and outcome["outcome"] in {"killed", "timeout"}:
                # a kill of a mutant that cannot change the meter is no strength of the
                # plans (a flaky test, or a plan that fails a compliant meter): counted as
                # equivalent, saying so; a rule that says too much shows up here too
                said = outcome.get("detail", "")
                doubtful.append(f"{profile} {m.id}: {said[:120]}")
                outcome.update(outcome="equivalent", detail=f"{why} (the run failed it, "
                               f"which is no kill: {said[:200]})")
    if doubtful:
        print("killed, yet an equivalence rule names them (counted as equivalent; check the "
              "rule, or the test that failed):")
        for line in doubtful:
            print("  " + line)
    profiles = record["meta"]["profiles"]
    record["table"] = table(judged(mutants, profiles, record["meta"]), profiles)
    record["mutants"] = [{k: v for k, v in asdict(m).items() if k != "path"} for m in mutants]
    record["meta"]["relabelled"] = time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())
    out = args.relabel.with_name(args.relabel.stem + "-relabelled.json")
    out.write_text(json.dumps(record, indent=1))
    print(format_table(record["table"]))
    print(f"every mutant: {out}")
    if args.write_md:
        (ROOT / "benchmarks" / "mutation_results.md").write_text(
            markdown(record["meta"], mutants, profiles))
        print("summary: benchmarks/mutation_results.md")
    return 0


def merge_rerun(mutants: list[Mutant], rerun: dict) -> int:
    """Survivors that a `--rerun` (the same mutant, found by content, against new plan
    tests) killed become killed, their detail saying so; a mutant no line of the plan
    reached takes the rerun's verdict (killed, or survived); a run left unjudged (by --stop-at)
    takes the outcome of a `--resume` run; nothing else changes. The number of runs turned
    or filled in."""
    kills = {_key(Mutant(**x)): x["outcomes"] for x in rerun["mutants"]}
    turned = 0
    for m in mutants:
        again = kills.get(_key(m), {})
        for profile, later in again.items():
            if profile not in m.outcomes:
                m.outcomes[profile] = {**later, "resumed": True}
                turned += 1
        for profile, outcome in m.outcomes.items():
            later = again.get(profile, {})
            if outcome["outcome"] == "survived" and later.get("outcome") in ("killed",
                                                                              "timeout"):
                outcome.update(outcome=later["outcome"], rerun=True,
                               detail="on the rerun, by a new test: " + later["detail"])
                turned += 1
            elif outcome["outcome"] == "uncovered" and later.get("outcome") in (
                    "killed", "timeout", "survived"):  # a new test reaches it: its verdict
                outcome.update(outcome=later["outcome"], rerun=True,
                               detail="not reached by the plan it was drawn against; on the "
                               "rerun, reached by a new test: " + later.get("detail", ""))
                turned += 1
    return turned


def _stop_time(text: str | None) -> float | None:
    """--stop-at HH:MM (UTC, today) as a time.time() value."""
    if not text:
        return None
    import calendar

    hours, minutes = (int(x) for x in text.split(":"))
    now = time.gmtime()
    return float(calendar.timegm((now.tm_year, now.tm_mon, now.tm_mday, hours, minutes, 0)))


def clean_runs(args: argparse.Namespace, workers: list[Path], profiles: list[str],
               files: list[str], out: Path) -> dict[str, tuple[float, dict | None] | str]:
    """The clean plan on each profile, in parallel on the workers' trees: (seconds, covered
    lines or None), or why it failed."""
    result: dict[str, tuple[float, dict | None] | str] = {}

    def one(profile: str, tree: Path) -> None:
        try:
            if args.coverage:
                lines, took = covered_lines(tree, profile, out, files, args.plan_args)
                result[profile] = (took, lines)
                return
            outcome, took, _code, detail = run_plan(tree, profile, out / f"clean-{profile}",
                                                    1800, args.plan_args)
            result[profile] = (took, None) if outcome == "survived" else detail or outcome
        except SystemExit as exc:
            result[profile] = str(exc)

    for i in range(0, len(profiles), len(workers)):
        batch = [threading.Thread(target=one, args=(p, workers[j]))
                 for j, p in enumerate(profiles[i:i + len(workers)])]
        for t in batch:
            t.start()
        for t in batch:
            t.join()
    for profile in profiles:
        if not isinstance(result[profile], str):
            took = result[profile][0]
            print(f"clean plan on {profile}: {took:.0f} s", flush=True)
    return result


if __name__ == "__main__":
    sys.exit(main())
