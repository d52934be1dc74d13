"""Every file a command is given goes through the rig's one bounded reader (issue 19, item 4):
a FIFO named as a bench file, a meter profile (given, or named by a bench file) or a meter
state file would block the command for ever, and /dev/zero would grow it until memory ran
out. Each is bad input: one line naming the option and the kind of file, exit 2, before
anything starts. The record and LATEST that `rig report` and `rig results` read are bounded
the same way.

A command that would block is run in a thread with a bound on its wait, so a regression
fails here instead of hanging the suite.
"""

from __future__ import annotations

import os
import threading
from pathlib import Path

import pytest

from rig.cli import main

TOKEN = "0000 0000 0000 0000 0000"


@pytest.fixture
def fifo(tmp_path: Path) -> Path:
    path = tmp_path / "fifo"
    os.mkfifo(path)
    return path


def ended(call, wait_s: float = 20.0):
    """call()'s result; AssertionError when it is still blocked after `wait_s`."""
    result: list = []
    thread = threading.Thread(target=lambda: result.append(call()), daemon=True)
    thread.start()
    thread.join(wait_s)
    assert result, f"still blocked after {wait_s:g} s (an unbounded read)"
    return result[0]


def bench_naming_profile(tmp_path: Path, profile: Path) -> Path:
    bench = tmp_path / "bench.toml"
    bench.write_text('[bench]\nemulated = true\n[meter]\npan = "600727471234567834"\n'
                     f'profile = "{profile}"\n')
    return bench


@pytest.mark.parametrize(("argv", "says"), [
    (["bench", "check", "--bench", "{fifo}"], "rig bench: bench file {fifo} "),
    (["bench", "check", "--bench", "{bench}"], "rig bench: meter profile {fifo} "),
    (["meter", "readout", "--profile", "{fifo}"], "rig meter: --profile {fifo} "),
    (["meter", "enter", TOKEN, "--state", "{fifo}"], "rig meter: --state {fifo} "),
    (["display", "read", "--state", "{fifo}"], "rig display: --state {fifo} "),
    (["display", "read", "--bench", "{bench}"], "rig display: meter profile {fifo} "),
    (["emulate", "--profile", "{fifo}"], "rig emulate: --profile {fifo} "),
    (["emulate", "--state", "{fifo}"], "rig emulate: --state {fifo} "),
    (["sts", "vend", "credit", "--subclass", "0", "--amount", "1", "--bench", "{fifo}"],
     "rig sts: --bench {fifo} "),
])
def test_a_fifo_given_to_a_command_is_bad_input_named_in_one_line(tmp_path, fifo, capsys,
                                                                  argv, says):
    bench = bench_naming_profile(tmp_path, fifo)
    argv = [a.format(fifo=fifo, bench=bench) for a in argv]
    assert ended(lambda: main(argv)) == 2
    err = capsys.readouterr().err
    assert err.splitlines() == [says.format(fifo=fifo) + "is not a regular file (a FIFO)"]


def test_dev_zero_and_a_file_too_large_are_refused_by_size_or_kind(tmp_path, monkeypatch):
    import rig.commands.input_files as input_files
    from rig.commands.input_files import InputFileError, check_input_file

    with pytest.raises(InputFileError, match=r"^--bench /dev/zero is not a regular file "
                                             r"\(a character device\)$"):
        check_input_file("/dev/zero", "--bench")
    big = tmp_path / "big.toml"
    big.write_bytes(b"#" * 2000)
    monkeypatch.setattr(input_files, "TEXT_FILE_MAX", 1000)
    with pytest.raises(InputFileError, match=rf"^--state {big} holds more than 1000 bytes$"):
        check_input_file(big, "--state", input_files.TEXT_FILE_MAX)
    check_input_file(tmp_path / "missing.json", "--state")  # made later: not refused here
    check_input_file(big, "--state")  # the default limit, 1 MiB, takes it


def test_a_record_that_is_a_fifo_is_refused_not_waited_on(fifo):
    from rig.record.record_schema import RecordInvalid, read_valid

    def read() -> str:
        try:
            read_valid(fifo)
        except RecordInvalid as exc:
            return str(exc)
        return "read"

    assert ended(read) == f"results file {fifo} is not a regular file (a FIFO)"


def test_latest_that_is_a_fifo_is_refused_not_waited_on(tmp_path):
    from rig.record.run_folder import RunFolderError, latest_run_dir

    os.mkfifo(tmp_path / "LATEST")

    def read() -> str:
        try:
            latest_run_dir(tmp_path)
        except RunFolderError as exc:
            return str(exc)
        return "read"

    said = ended(read)
    assert said.startswith(f"{tmp_path / 'LATEST'}: cannot be read") and "FIFO" in said


def test_results_index_a_record_larger_than_any_run_as_unreadable(tmp_path, monkeypatch):
    import rig.record.record_schema as record_schema
    from rig.record.results_db import UNREADABLE, summarise

    run = tmp_path / "r1"
    run.mkdir()
    (run / "results.jsonl").write_text('{"kind": "run_start", "run_id": "r1"}\n'
                                       + '{"kind": "x", "pad": "' + "y" * 4000 + '"}\n')
    assert summarise(run).verdict != UNREADABLE
    monkeypatch.setattr(record_schema, "RECORD_MAX", 1000)
    summary = summarise(run)
    assert summary.verdict == UNREADABLE
    assert summary.reason == (f"the record cannot be read: results file {run / 'results.jsonl'}"
                              " holds more than 1000 bytes")


@pytest.mark.parametrize(("argv", "says"), [
    (["--bench", "{fifo}"], "rig run: bench file {fifo} is not a regular file (a FIFO)"),
    (["--profile", "{fifo}"],
     "rig run: --profile {fifo}: meter profile {fifo} is not a regular file"),
    (["--bench", "{bench}"],
     "rig run: bench.toml: meter.profile {fifo} is not a regular file (a FIFO)"),
    (["--meters", "{fifo}"],
     "rig run: --meters: meters file {fifo} is not a regular file (a FIFO)"),
])
def test_rig_run_refuses_a_fifo_where_its_loaders_read(tmp_path, fifo, capsys, argv, says):
    """The loaders themselves read bounded (the bench file, the profile, the meters file),
    so `rig run` and the plan's own loading are safe too, not only the commands' checks."""
    bench = bench_naming_profile(tmp_path, fifo)
    argv = ["run", "--reports", str(tmp_path / "r")] + [
        a.format(fifo=fifo, bench=bench) for a in argv]
    assert ended(lambda: main(argv)) == 2
    assert capsys.readouterr().err.splitlines() == [says.format(fifo=fifo)]
    assert not (tmp_path / "r").exists()  # nothing started, no run folder
