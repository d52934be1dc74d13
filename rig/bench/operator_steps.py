"""Operator prompts: the steps of a plan only a person can do, and what they saw.

A plan asks the `operator` fixture to `instruct` (do this, then press Enter), `confirm`
(yes/no) or `observe` (what do you see). The answer comes from a person at the terminal, or
from an answers file (`rig run --answers FILE`, for CI and for repeating a run); without
either the step cannot be done and the test is skipped ("needs an operator"). Every answer
is handed to a callback, which writes it to the run record as operator-observed, with its
time. On the emulated bench a physical step (the terminal cover opened, a magnet applied)
is acted by the emulator, told over its control channel (loopback TCP, one line a command:
`ACT <action>` answered `OK` or `ERR <why>`).

Answers file, one answer a line, `|` between the fields, a line starting `#` a comment:

    # step    | question (exactly as the plan asks it)        | answer | emulate (optional)
    instruct  | Open the meter's terminal cover.              | done   | terminal-cover-open
    confirm   | Does the display show PERIKSA?                | yes
    observe   | What does the meter's display show?           | PERIKSA

An answer is found by its step and question; several lines for one question are used in
turn, and the last one again once all were used.
"""

from __future__ import annotations

import datetime as dt
import socket
from collections.abc import Callable
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass, field
from pathlib import Path

from drivers.bounded_read import InputRefused, read_file

STEPS = ("instruct", "confirm", "observe")
YES = ("yes", "y")
NO = ("no", "n")
#: the physical steps the emulated bench can act (emulator/control.py serves them)
EMULATE_ACTIONS = ("terminal-cover-open", "terminal-cover-close", "magnet-on", "magnet-off")


ANSWERS_FILE_MAX = 1024 * 1024  # bytes: an answers file is a page of text


class OperatorUnavailable(Exception):
    """No person at a terminal and no answer in an answers file: the step cannot be done."""

    def __init__(self, step: str, question: str, why: str) -> None:
        super().__init__(f"needs an operator: {step} {question!r} ({why})")
        self.step, self.question = step, question


class AnswersFileError(ValueError):
    """An answers file that cannot be used: one line of the message per bad line."""


class EmulatorControlError(RuntimeError):
    """The emulated bench did not act a physical step."""


@dataclass(frozen=True)
class Answer:
    """One operator step and its answer, as the record keeps it."""

    step: str
    question: str
    answer: str
    at: str  # ISO 8601, local time with offset
    source: str  # "terminal" or "answers file <path>"
    emulated: str | None = None  # the action the emulated bench acted, if any

    def as_record(self) -> dict[str, str | None]:
        return {"step": self.step, "question": self.question, "answer": self.answer,
                "at": self.at, "source": self.source, "emulated": self.emulated}


@dataclass(frozen=True)
class ScriptedAnswer:
    """One line of an answers file."""

    step: str
    question: str
    answer: str
    emulate: str | None
    line: int


@dataclass
class AnswersFile:
    """The answers of a file, by (step, question)."""

    path: Path
    entries: dict[tuple[str, str], list[ScriptedAnswer]] = field(default_factory=dict)
    _used: dict[tuple[str, str], int] = field(default_factory=dict)

    @classmethod
    def load(cls, path: str | Path) -> AnswersFile:
        """Parse the file; every bad line is reported at once, each naming its line."""
        path = Path(path)
        try:  # bounded: a FIFO or /dev/zero is refused, never read
            text = read_file(path, ANSWERS_FILE_MAX, what="answers file").decode("utf-8")
        except InputRefused as exc:
            raise AnswersFileError(str(exc)) from None
        except OSError as exc:
            raise AnswersFileError(f"answers file {path}: {exc.strerror or exc}") from None
        except UnicodeDecodeError as exc:  # refused at start, not at each test's setup
            raise AnswersFileError(f"answers file {path}: not UTF-8 text (byte "
                                   f"0x{exc.object[exc.start]:02x} at offset {exc.start})"
                                   ) from None
        return cls.parse(text, path)

    @classmethod
    def parse(cls, text: str, path: Path) -> AnswersFile:
        answers = cls(path)
        errors = []
        for n, raw in enumerate(text.splitlines(), 1):
            line = raw.strip()
            if not line or line.startswith("#"):
                continue
            try:
                entry = _parse_line(line, n)
            except ValueError as exc:
                errors.append(f"{path.name} line {n}: {exc}")
                continue
            answers.entries.setdefault((entry.step, _norm(entry.question)), []).append(entry)
        if errors:
            raise AnswersFileError("\n".join(errors))
        return answers

    def find(self, step: str, question: str) -> ScriptedAnswer | None:
        """The next answer to this question (the last one again when all were used)."""
        key = (step, _norm(question))
        lines = self.entries.get(key)
        if not lines:
            return None
        i = self._used.get(key, 0)
        self._used[key] = i + 1
        return lines[min(i, len(lines) - 1)]


def _norm(question: str) -> str:
    return " ".join(question.split()).casefold()


def _parse_line(line: str, n: int) -> ScriptedAnswer:
    fields_ = [f.strip() for f in line.split("|")]
    if len(fields_) not in (3, 4):
        raise ValueError(f"expected 'step | question | answer [| emulate]', got "
                         f"{len(fields_)} field{'s' if len(fields_) != 1 else ''}")
    step, question, answer = fields_[0].lower(), fields_[1], fields_[2]
    emulate = fields_[3] if len(fields_) == 4 and fields_[3] else None
    if step not in STEPS:
        raise ValueError(f"step {fields_[0]!r} is not one of {', '.join(STEPS)}")
    if not question:
        raise ValueError("the question is empty")
    if step == "confirm" and answer.lower() not in YES + NO:
        raise ValueError(f"confirm answer {answer!r} must be yes or no")
    if step == "observe" and not answer:
        raise ValueError("an observe step needs what was seen")
    if emulate is not None and emulate not in EMULATE_ACTIONS:
        raise ValueError(f"emulate action {emulate!r} is not one of "
                         f"{', '.join(EMULATE_ACTIONS)}")
    return ScriptedAnswer(step, question, answer or "done", emulate, n)


class EmulatorControl:
    """The emulated bench's control channel (loopback TCP): acts a physical step."""

    def __init__(self, address: str, timeout: float = 5.0) -> None:
        host, _, port = address.rpartition(":")
        if host not in ("127.0.0.1", "localhost", "::1"):
            raise EmulatorControlError(f"emulator control {address}: loopback only")
        self.host, self.port, self.timeout = host, int(port), timeout

    def act(self, action: str) -> None:
        try:
            with socket.create_connection((self.host, self.port), self.timeout) as conn:
                conn.sendall(f"ACT {action}\n".encode("ascii"))
                reply = conn.makefile("rb").readline().decode("ascii", "replace").strip()
        except OSError as exc:
            raise EmulatorControlError(f"emulator control {self.host}:{self.port}: "
                                       f"{action}: {exc}") from None
        if reply != "OK":
            raise EmulatorControlError(f"emulator control refused {action}: {reply or 'no answer'}")


Prompt = Callable[[str], str]


class TerminalPrompter:
    """Asks a person: `suspend()` lifts the test runner's output capture for the question
    (pytest's capture manager in the fixture), `ask` reads the answer line; `available()`
    says whether a person can be at the other end (an interactive terminal)."""

    def __init__(self, ask: Prompt, available: Callable[[], bool],
                 suspend: Callable[[], AbstractContextManager[object]] | None = None) -> None:
        self._ask, self._available = ask, available
        self._suspend = suspend or nullcontext

    def available(self) -> bool:
        with self._suspend():  # the runner's capture swaps stdin out while it is on
            return self._available()

    def __call__(self, prompt: str) -> str:
        with self._suspend():
            return self._ask(prompt)


def _now_iso() -> str:
    return dt.datetime.now().astimezone().isoformat(timespec="milliseconds")


class Operator:
    """The person at the bench (or their scripted answers), for the plans."""

    def __init__(self, *, answers: AnswersFile | None = None,
                 terminal: TerminalPrompter | None = None,
                 on_answer: Callable[[Answer], None] | None = None,
                 emulator: EmulatorControl | None = None,
                 clock: Callable[[], str] = _now_iso,
                 unavailable: Callable[[OperatorUnavailable], None] | None = None) -> None:
        self.answers = answers
        self.terminal = terminal
        self.emulator = emulator
        self._on_answer = on_answer
        self._clock = clock
        self._unavailable = unavailable  # e.g. the fixture's pytest.skip; else it is raised
        self.log: list[Answer] = []

    def instruct(self, text: str, *, emulate: str | None = None) -> None:
        """Do this, then press Enter. `emulate` names the physical step for the emulated
        bench (EMULATE_ACTIONS); a real bench leaves it to the person."""
        self._step("instruct", text, emulate)

    def confirm(self, question: str) -> bool:
        """A yes/no question; True for yes."""
        return self._step("confirm", question, None).answer.lower() in YES

    def observe(self, question: str) -> str:
        """What the person sees (e.g. the display text), as they typed it."""
        return self._step("observe", question, None).answer

    def _step(self, step: str, question: str, emulate: str | None) -> Answer:
        if emulate is not None and emulate not in EMULATE_ACTIONS:
            raise ValueError(f"emulate action {emulate!r} is not one of "
                             f"{', '.join(EMULATE_ACTIONS)}")
        scripted = self.answers.find(step, question) if self.answers else None
        if scripted is not None:
            text = scripted.answer
            source = f"answers file {self.answers.path} line {scripted.line}"
            emulate = scripted.emulate or emulate
        elif self.terminal is not None and self.terminal.available():
            text = self._ask_terminal(step, question)
            source = "terminal"
        else:
            why = (f"no answer in {self.answers.path}" if self.answers
                   else "no terminal and no --answers FILE")
            missing = OperatorUnavailable(step, question, why)
            if self._unavailable is not None:
                self._unavailable(missing)
            raise missing
        acted = None
        if emulate is not None and self.emulator is not None:
            self.emulator.act(emulate)
            acted = emulate
        answer = Answer(step, question, text, self._clock(), source, acted)
        self.log.append(answer)
        if self._on_answer is not None:
            self._on_answer(answer)
        return answer

    def _ask_terminal(self, step: str, question: str) -> str:
        assert self.terminal is not None
        if step == "instruct":
            self.terminal(f"\n[operator] {question}\n  press Enter when done: ")
            return "done"
        while True:
            if step == "confirm":
                reply = self.terminal(f"\n[operator] {question} [yes/no]: ").strip().lower()
                if reply in YES + NO:
                    return "yes" if reply in YES else "no"
            else:
                reply = self.terminal(f"\n[operator] {question}\n  what do you see? ").strip()
                if reply:
                    return reply
