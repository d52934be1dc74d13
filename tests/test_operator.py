"""Operator prompts: the answers file, the terminal, the record callback, the emulator's
control channel, and the tamper plans run through `rig run` with and without answers."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from rig.bench.operator_steps import (
    Answer,
    AnswersFile,
    AnswersFileError,
    EmulatorControl,
    EmulatorControlError,
    Operator,
    OperatorUnavailable,
    TerminalPrompter,
)

ROOT = Path(__file__).resolve().parent.parent
AT = "2026-12-01T10:00:00.000+07:00"


def _file(tmp_path: Path, text: str) -> AnswersFile:
    path = tmp_path / "answers.txt"
    path.write_text(text, encoding="utf-8")
    return AnswersFile.load(path)


def test_every_bad_line_is_named_once(tmp_path):
    text = ("# a comment\n"
            "instruct | Open the cover. | done | terminal-cover-open\n"
            "confrim | Shows PERIKSA? | yes\n"
            "confirm | Shows PERIKSA? | maybe\n"
            "observe | What is shown?\n"
            "\n"
            "instruct | Open the cover. | done | open-the-cover\n"
            "observe |  | 12\n")
    with pytest.raises(AnswersFileError) as err:
        _file(tmp_path, text)
    assert str(err.value).splitlines() == [
        "answers.txt line 3: step 'confrim' is not one of instruct, confirm, observe",
        "answers.txt line 4: confirm answer 'maybe' must be yes or no",
        "answers.txt line 5: expected 'step | question | answer [| emulate]', got 2 fields",
        "answers.txt line 7: emulate action 'open-the-cover' is not one of "
        "terminal-cover-open, terminal-cover-close, magnet-on, magnet-off",
        "answers.txt line 8: the question is empty",
    ]


def test_missing_file_is_named(tmp_path):
    with pytest.raises(AnswersFileError, match=r"answers file .*nope\.txt: No such file"):
        AnswersFile.load(tmp_path / "nope.txt")


def test_answers_are_found_by_step_and_question_and_recorded(tmp_path):
    answers = _file(tmp_path, "confirm | Shows  PERIKSA? | yes\n"
                              "confirm | Shows PERIKSA? | no\n"
                              "observe | What is shown? | 230.0 V\n"
                              "instruct | Open the cover. | | terminal-cover-open\n")
    seen: list[Answer] = []
    acted: list[str] = []

    class Control:
        def act(self, action: str) -> None:
            acted.append(action)

    op = Operator(answers=answers, on_answer=seen.append, emulator=Control(),
                  clock=lambda: AT)
    assert op.confirm("shows periksa?") is True       # case and spaces do not matter
    assert op.confirm("Shows PERIKSA?") is False      # the second line
    assert op.confirm("Shows PERIKSA?") is False      # the last one again
    assert op.observe("What is shown?") == "230.0 V"
    op.instruct("Open the cover.")
    assert acted == ["terminal-cover-open"]
    assert seen[3].as_record() == {"step": "observe", "question": "What is shown?",
                                   "answer": "230.0 V", "at": AT,
                                   "source": f"answers file {answers.path} line 3",
                                   "emulated": None}
    assert seen[4].answer == "done" and seen[4].emulated == "terminal-cover-open"
    with pytest.raises(OperatorUnavailable, match=r"needs an operator: observe 'Other\?' "
                                                  r"\(no answer in .*answers\.txt\)"):
        op.observe("Other?")


def test_no_terminal_and_no_file_is_unavailable_naming_the_step():
    skipped: list[str] = []
    terminal = TerminalPrompter(lambda prompt: "yes", lambda: False)
    op = Operator(terminal=terminal, unavailable=lambda exc: skipped.append(str(exc)))
    with pytest.raises(OperatorUnavailable):
        op.instruct("Hold the magnet to the meter.")
    assert skipped == ["needs an operator: instruct 'Hold the magnet to the meter.' "
                       "(no terminal and no --answers FILE)"]


def test_terminal_asks_again_until_yes_or_no():
    replies = iter(["perhaps", " Y ", "", "  PERIKSA "])
    prompts: list[str] = []

    def ask(prompt: str) -> str:
        prompts.append(prompt)
        return next(replies)

    seen: list[Answer] = []
    op = Operator(terminal=TerminalPrompter(ask, lambda: True), on_answer=seen.append)
    assert op.confirm("Shows PERIKSA?") is True
    assert op.observe("What is shown?") == "PERIKSA"
    assert len(prompts) == 4 and prompts[0].endswith("Shows PERIKSA? [yes/no]: ")
    assert [a.answer for a in seen] == ["yes", "PERIKSA"]
    assert {a.source for a in seen} == {"terminal"}


def test_the_plan_action_is_acted_only_on_an_emulated_bench(tmp_path):
    answers = _file(tmp_path, "instruct | Open the cover. | done\n")
    op = Operator(answers=answers)  # a real bench: no emulator control
    op.instruct("Open the cover.", emulate="terminal-cover-open")
    assert op.log[0].emulated is None
    with pytest.raises(ValueError, match="emulate action 'lift-the-lid'"):
        op.instruct("Open the cover.", emulate="lift-the-lid")


def test_emulator_control_opens_the_cover_of_the_emulated_meter():
    from emulator.clock import ManualClock
    from emulator.control import ControlServer
    from emulator.model import BenchModel
    from emulator.setup import MeterSetup
    from meterprofile import load_profile

    model = BenchModel(MeterSetup.default(), load_profile(), ManualClock(10.0))
    model.set_source(voltage=230.0, frequency=50.0, output=True)
    server = ControlServer(model)
    server.start()
    try:
        control = EmulatorControl(server.address)
        assert model.read_register("C.54.0")[0] == "0"
        control.act("terminal-cover-open")
        control.act("magnet-on")          # the tamper input is already active: no new event
        control.act("terminal-cover-close")
        control.act("magnet-off")
        assert model.read_register("C.54.0")[0] == "1"   # latched until clear-tamper
        assert model.read_register("C.59.1")[0] == "1"
        with pytest.raises(EmulatorControlError, match="refused fly: ERR unknown action"):
            control.act("fly")
    finally:
        server.stop()
        model.close()
    with pytest.raises(EmulatorControlError, match="loopback only"):
        EmulatorControl("192.168.0.5:4000")


# --- the tamper plans through `rig run` --------------------------------------------------


def _rig_run(tmp_path: Path, *args: str) -> tuple[int, list[dict]]:
    reports = tmp_path / "reports"
    proc = subprocess.run(
        [sys.executable, "-m", "rig", "run", "--reports", str(reports), *args,
         str(ROOT / "testplans" / "test_tamper_physical.py")],
        stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=300, cwd=ROOT)
    run = (reports / (reports / "LATEST").read_text().strip())
    lines = [json.loads(x) for x in (run / "results.jsonl").read_text().splitlines()]
    return proc.returncode, lines


@pytest.mark.slow
def test_tamper_plans_with_scripted_answers_and_without(tmp_path):
    code, lines = _rig_run(tmp_path / "a", "--answers",
                           str(ROOT / "testplans" / "answers" / "emulated.txt"))
    outcomes = {x["test"].split("::")[1]: x["outcome"] for x in lines if x["kind"] == "test"}
    assert code == 0, outcomes
    assert set(outcomes.values()) == {"passed"} and len(outcomes) == 3
    ops = [x for x in lines if x["kind"] == "operator"]
    assert [x["emulated"] for x in ops if x["step"] == "instruct"] == [
        "terminal-cover-open", "terminal-cover-close", "magnet-on", "magnet-off"]
    assert all(x["at"] and x["source"].startswith("answers file") for x in ops)
    rows = [x for x in lines if x["kind"] == "measurement"
            and x["name"].startswith("operator-observed (")]
    assert [(r["name"], r["value"], r["verdict"]) for r in rows][:2] == [
        ("operator-observed (instruct): Open the meter's terminal cover.", "done", "INFO"),
        ("operator-observed (instruct): Close the meter's terminal cover.", "done", "INFO")]
    assert len(rows) == len(ops) == 8  # 4 instruct, 2 confirm, 2 observe

    # the emulated bench answers its own steps by default; `--answers none` takes that away,
    # as on a real bench with no person and no file: no verdict, rig run's exit code says so
    _, lines = _rig_run(tmp_path / "b", "--answers", "none")
    tests = [x for x in lines if x["kind"] == "test"]
    assert [x["outcome"] for x in tests] == ["skipped"] * 3
    assert tests[0]["reason"] == ("needs an operator: instruct \"Open the meter's terminal "
                                  "cover.\" (no terminal and no --answers FILE)")
    assert not [x for x in lines if x["kind"] == "operator"]
