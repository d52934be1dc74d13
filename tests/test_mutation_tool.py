"""The AST mutator of benchmarks/mutation.py: each mutant is one change, valid Python, found
again by content, and the equivalence rules name only code the clean meter cannot run."""

from __future__ import annotations

import ast
import importlib.util
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent

SOURCE = '''
import logging
log = logging.getLogger("x")
LIMIT = 3


class Meter:
    """A meter."""

    def __init__(self, faults):
        self.faults = faults
        self.count = 0

    def judge(self, n, closed):
        """Refuse past the limit."""
        if "lenient" in self.faults:
            n -= 1
        if n > LIMIT and closed:
            self.count += 1
            log.debug("refused %s", n > 1)
            return "REFUSED"
        else:
            return "OK"
'''


@pytest.fixture(scope="module")
def mutation():
    spec = importlib.util.spec_from_file_location("benchmarks_mutation",
                                                  ROOT / "benchmarks" / "mutation.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # its dataclasses look their module up
    spec.loader.exec_module(module)
    return module


def test_every_mutant_is_one_valid_change(mutation):
    mutants = mutation.enumerate_mutants("meter.py", SOURCE)
    ops = {m.operator for m in mutants}
    assert {"flip-compare", "boundary", "constant+1", "constant-1", "drop-statement",
            "swap-branches", "negate", "and-or", "arith"} <= ops, ops
    original = ast.dump(ast.parse(SOURCE))
    for m in mutants:
        text = mutation.apply(SOURCE, m)
        assert ast.dump(ast.parse(text)) != original, m  # changed, and still Python
    # no mutant of a docstring, an import or the signature
    assert not any(m.before.startswith(("'A meter", "import", "'Refuse")) for m in mutants)


def test_the_sample_is_reproducible_and_ids_are_unique(mutation):
    mutants = mutation.enumerate_mutants("meter.py", SOURCE)
    again = mutation.enumerate_mutants("meter.py", SOURCE)
    assert [m.id for m in mutants] == [m.id for m in again]
    assert len({m.id for m in mutants}) == len(mutants)


def test_equivalence_names_logging_and_fault_only_code_only(mutation):
    tree = ast.parse(SOURCE)
    mutants = mutation.enumerate_mutants("meter.py", SOURCE)
    reasons = {(m.function, m.statement, m.operator, m.before):
               mutation.equivalent_reason(m, tree) for m in mutants}
    log_flip = next(r for (f, st, op, b), r in reasons.items()
                    if st.startswith("log.debug") and op == "flip-compare")
    assert log_flip and "log line" in log_flip
    fault_body = next(r for (f, st, op, b), r in reasons.items()
                      if st == "n -= 1" and op == "drop-statement")
    assert fault_body and "'lenient'" in fault_body
    fault_test = next(r for (f, st, op, b), r in reasons.items()
                      if b == "'lenient' in self.faults" and op == "flip-compare")
    assert fault_test is None  # switching the fault on in the clean meter is a real change
    fault_branch = next(r for (f, st, op, b), r in reasons.items()
                        if st.startswith("if 'lenient' in self.faults") and op == "drop-statement")
    assert fault_branch and "drops a branch taken only with the emulator fault 'lenient'" \
        in fault_branch
    judged_branch = next(r for (f, st, op, b), r in reasons.items()
                         if st.startswith("if n > LIMIT") and op == "drop-statement")
    assert judged_branch is None  # its test is no fault switch, and it has an else
    log_drop = next(r for (f, st, op, b), r in reasons.items()
                    if st.startswith("log.debug") and op == "drop-statement")
    assert log_drop == "drops a log line (the log's text, not the meter's behaviour)"
    judged = [r for (f, st, op, b), r in reasons.items()
              if st.startswith("if n > LIMIT") and not st.startswith("log")]
    assert judged and not any(judged)


def test_equivalence_rules_load_from_their_data_file(mutation, tmp_path):
    rules = mutation.load_equivalent()
    assert rules and all((ROOT / r["file"]).exists() and r["reason"] for r in rules)
    bad = tmp_path / "rules.toml"
    bad.write_text('[[rule]]\nfile = "emulator/model.py"\n\n[[rule]]\nreason = "x"\n')
    with pytest.raises(ValueError, match=r"rules.toml: rule 1 has no reason"):
        mutation.load_equivalent(bad)


def test_every_equivalence_rule_still_names_a_mutant_of_the_code(mutation):
    """A rule keyed on text that an edit of the emulator changed names nothing any more (and
    its mutants would be judged by hand no longer): every rule must match a mutant today."""
    mutants = mutation.all_mutants(mutation.resolve_files(list(mutation.DEFAULT_FILES)))
    trees = {m.file: ast.parse((ROOT / m.file).read_text()) for m in mutants}
    stale, kept = [], list(mutation.EQUIVALENT)
    try:
        for index, rule in enumerate(kept):
            mutation.EQUIVALENT[:] = [rule]  # this rule alone
            if not any(mutation.equivalent_reason(m, trees[m.file], rule.get("profile", ""))
                       == rule["reason"] for m in mutants if m.file == rule["file"]
                       and m.statement.startswith(rule.get("statement", ""))):
                stale.append((index, rule.get("statement"), rule.get("before")))
    finally:
        mutation.EQUIVALENT[:] = kept
    assert stale == []


def test_a_rerun_turns_only_its_kills(mutation):
    """--merge: a survivor the rerun killed becomes killed, saying so; a mutant the plan did
    not reach takes the rerun's verdict, saying so; a survivor it did not kill, and every
    other outcome, stays as it was."""
    def mutant(before, outcomes):
        return mutation.Mutant(id=f"m.py:1:constant:{before}", file="m.py", line=1,
                               operator="constant", before=before, after="0", function="f",
                               statement=f"x = {before}", outcomes=outcomes)

    main = [mutant("1", {"a": {"outcome": "survived"}, "b": {"outcome": "survived"}}),
            mutant("2", {"a": {"outcome": "survived"}, "b": {"outcome": "uncovered"}})]
    rerun = {"mutants": [
        {**vars(mutant("1", {"a": {"outcome": "killed", "detail": "test_x (call)"},
                             "b": {"outcome": "survived", "detail": ""}})), "path": ()},
        {**vars(mutant("2", {"a": {"outcome": "survived", "detail": ""},
                             "b": {"outcome": "killed", "detail": "test_y"}})), "path": ()}]}
    assert mutation.merge_rerun(main, rerun) == 2
    assert main[0].outcomes["a"] == {"outcome": "killed", "rerun": True,
                                     "detail": "on the rerun, by a new test: test_x (call)"}
    assert main[0].outcomes["b"] == {"outcome": "survived"}
    assert main[1].outcomes == {
        "a": {"outcome": "survived"},
        "b": {"outcome": "killed", "rerun": True,
              "detail": "not reached by the plan it was drawn against; on the rerun, reached "
                        "by a new test: test_y"}}


def test_a_resumed_run_fills_in_only_what_was_left_out(mutation):
    """--merge of a --resume run: a profile the stopped run never judged takes the resumed
    outcome (saying so); an outcome already judged is not overwritten by it."""
    def mutant(before, outcomes):
        return mutation.Mutant(id=f"m.py:1:constant:{before}", file="m.py", line=1,
                               operator="constant", before=before, after="0", function="f",
                               statement=f"x = {before}", outcomes=outcomes)

    main = [mutant("1", {}), mutant("2", {"a": {"outcome": "killed", "detail": "t"}})]
    resumed = {"mutants": [
        {**vars(mutant("1", {"a": {"outcome": "survived", "detail": ""},
                             "b": {"outcome": "killed", "detail": "test_z (call)"}})),
         "path": ()},
        {**vars(mutant("2", {"a": {"outcome": "survived", "detail": ""},
                             "b": {"outcome": "equivalent", "detail": "why"}})), "path": ()}]}
    assert mutation.merge_rerun(main, resumed) == 3
    assert main[0].outcomes == {"a": {"outcome": "survived", "detail": "", "resumed": True},
                                "b": {"outcome": "killed", "detail": "test_z (call)",
                                      "resumed": True}}
    assert main[1].outcomes == {"a": {"outcome": "killed", "detail": "t"},
                                "b": {"outcome": "equivalent", "detail": "why",
                                      "resumed": True}}


def test_a_rule_tells_two_equal_constants_apart_and_leaves_out_what_it_must(mutation):
    """`parent` picks one of two equal constants of a line by the expression around it;
    `not_statement` keeps a statement out of a rule that takes the rest of a function."""
    source = "def f(a, b):\n    x = a == 0 and b != 0\n    y = 1\n    for i in range(8):\n" \
             "        y += i\n    return x, y\n"
    tree = ast.parse(source)
    mutants = mutation.enumerate_mutants("m.py", source)
    zeros = [m for m in mutants if m.before == "0" and m.after == "-1"]
    assert len(zeros) == 2
    kept = list(mutation.EQUIVALENT)
    try:
        mutation.EQUIVALENT[:] = [{"file": "m.py", "function": "f", "parent": "b != 0",
                                   "after": "-1", "reason": "second zero"}]
        assert [mutation.equivalent_reason(m, tree) for m in zeros] == [None, "second zero"]
        mutation.EQUIVALENT[:] = [{"file": "m.py", "function": "f", "reason": "rest",
                                   "not_statement": ["for i in range(8)"],
                                   "operators": ["constant+1"]}]
        judged = {m.statement.split(":")[0]: mutation.equivalent_reason(m, tree)
                  for m in mutants if m.operator == "constant+1"}
        assert judged["for i in range(8)"] is None
        assert judged["y = 1"] == "rest"
    finally:
        mutation.EQUIVALENT[:] = kept
