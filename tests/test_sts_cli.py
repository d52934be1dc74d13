"""`rig sts keygen | vend | decode`, in process through `rig.cli.main`, plus one run of the
real console entry point in a subprocess."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from rig.cli import main

ROOT = Path(__file__).resolve().parent.parent
DK02 = "e653341f9d5bf36f"
KEYGEN02 = ["--dkga", "02", "--vending-key", "abababababababab", "--pan", "600727000000000009",
            "--sgc", "123456", "--ti", "01", "--krn", "1", "--kt", "2"]
KEYGEN04_2014 = ["--dkga", "04", "--vending-key", "abababababababab949494949494949401234567",
                 "--pan", "600727000000000009", "--sgc", "201457", "--ti", "01", "--krn", "1",
                 "--kt", "2", "--base-date", "2014"]


def run(capsys, *argv: str) -> tuple[int, str, str]:
    code = main(["sts", *argv])
    out, err = capsys.readouterr()
    return code, out, err


def test_keygen_dkga02_and_dkga04(capsys):
    assert run(capsys, "keygen", *KEYGEN02) == (0, DK02 + "\n", "")
    code, out, _ = run(capsys, "keygen", "--dkga", "04", "--vending-key",
                       "abababababababab949494949494949401234567", "--pan",
                       "600727000000000009", "--sgc", "123457", "--ti", "01", "--krn", "1",
                       "--kt", "2", "--base-date", "1993", "--ea", "07")
    assert (code, out) == (0, "aa4baa8749c10d27\n")


@pytest.mark.parametrize(("argv", "token"), [
    (["credit", "--subclass", "0", "--amount", "0.1", "--decoder-key", DK02, "--ea", "07",
      "--at", "2004-03-01 13:55:41", "--rnd", "5"], "23716100501183194197"),
    (["credit", "--subclass", "1", "--amount", "16384", *KEYGEN02,
      "--at", "2006-04-23 23:10:03", "--rnd", "5"], "64605231735471529556"),
    (["--decoder-key", DK02, "power-limit", "--watts", "1000", "--tid", "5910301", "--rnd",
      "5"], "50901894209860263092"),
    (["clear-credit", "--register", "all", "--decoder-key", DK02, "--at", "2004-03-29 00:01",
      "--rnd", "5"], "20388873191656671689"),
    (["clear-credit", "--register", "4", "--decoder-key", DK02, "--at", "2004-04-01 09:10",
      "--rnd", "5"], "17696673116286267663"),
    (["clear-tamper", "--decoder-key", DK02, "--at", "2004-03-28 10:00", "--rnd", "5"],
     "37037300014464855694"),
    (["phase-unbalance", "--watts", "10", "--decoder-key", DK02, "--at", "2004-03-28 10:20",
      "--rnd", "5"], "30220533115430798647"),
    (["currency", "--subclass", "4", "--amount", "1", *KEYGEN04_2014,
      "--at", "2024-04-21 10:01"], "42334201269947232996"),
    (["currency", "--subclass", "4", "--amount", "-1", *KEYGEN04_2014,
      "--at", "2025-05-21 11:12"], "27792899833666285579"),
    (["test", "--control", "8"], "18446744073843772416"),
    (["test", "--control", "fffffff", "--mfr-digits", "4"], "02305843005052951967"),
])
def test_vend_vectors(capsys, argv, token):
    assert run(capsys, "vend", *argv) == (0, token + "\n", "")


def test_vend_key_change_sets(capsys):
    code, out, _ = run(capsys, "vend", "key-change", "--decoder-key", DK02,
                       "--new-decoder-key", "060b8643c59a27f1", "--new-kt", "2",
                       "--new-krn", "1", "--new-ti", "02")
    assert (code, out.split()) == (0, ["51638423060042734509", "15361891762113502242"])
    code, out, _ = run(capsys, "vend", "key-change", "--decoder-key",
                       "f94b6ed353c3bfdb113e2d3a7ea3c41d", "--ea", "11",
                       "--new-decoder-key", "b208834372ef892ef6e04c28593090d4",
                       "--new-kt", "2", "--new-krn", "1", "--new-ti", "02",
                       "--new-sgc", "123457")
    assert out.split() == ["34812744915211133004", "46903925208523674737",
                           "71464563847088610152", "67904239402617643990"]
    code, out, _ = run(capsys, "vend", "key-change", "--decoder-key", DK02,
                       "--new-decoder-key", "060b8643c59a27f1", "--new-kt", "2",
                       "--new-krn", "1", "--new-ti", "02", "--new-sgc", "201457", "--rollover")
    assert code == 0 and len(out.split()) == 3


def test_vend_json(capsys):
    code, out, _ = run(capsys, "vend", "credit", "--subclass", "0", "--amount", "25.6",
                       "--decoder-key", DK02, "--ea", "07", "--at", "2004-04-01 00:30",
                       "--rnd", "5", "--json")
    assert code == 0
    data = json.loads(out)
    assert data["tokens"] == ["26456622012185850752"]
    first = data["decoded"][0]
    assert (first["class"], first["subclass"], first["crc_ok"]) == (0, 0, True)
    assert (first["rnd"], first["tid"], first["amount"], first["unit"]) == (5, 5915550, 25.6,
                                                                           "kWh")
    assert first["block"] == "055a439e010036a2"
    assert first["tid_date"] == "2004-04-01 00:30"


def test_vend_random_rnd_and_now(capsys):
    code, out, _ = run(capsys, "vend", "credit", "--subclass", "0", "--amount", "5",
                       "--decoder-key", DK02, "--base-date", "2014", "--json")
    assert code == 0
    info = json.loads(out)["decoded"][0]
    assert 0 <= info["rnd"] <= 15 and info["base_date"] == 2014


def test_decode_with_key_json(capsys):
    code, out, _ = run(capsys, "decode", "2371 6100 5011 8319 4197", "--decoder-key", DK02,
                       "--ea", "07", "--json")
    assert code == 0
    info = json.loads(out)
    assert info["class"] == 0 and info["subclass"] == 0 and info["crc_ok"] is True
    assert info["block"] == "05599863000119e6"
    assert (info["rnd"], info["tid"], info["amount"]) == (5, 5871715, 0.1)
    assert info["tid_date"] == "2004-03-01 13:55"


def test_decode_text_and_keygen_options(capsys):
    code, out, _ = run(capsys, "decode", "50901894209860263092", *KEYGEN02)
    assert code == 0
    assert "SetMaximumPowerLimit" in out and "1000 W" in out and "crc         OK" in out
    assert "5910301 (2004-03-28 09:01, base 1993)" in out
    assert DK02 not in out  # no key in the output


def test_decode_class1_without_key(capsys):
    code, out, _ = run(capsys, "decode", "36893488147553322496", "--json")
    info = json.loads(out)
    assert code == 0
    assert (info["class"], info["subclass"], info["crc_ok"]) == (1, 0, True)
    assert (info["control"], info["mfr_code"], info["block"]) == (16, 0, "0000000010000600")


def test_decode_class0_without_key_is_partial(capsys):
    code, out, _ = run(capsys, "decode", "23716100501183194197", "--json")
    info = json.loads(out)
    assert code == 0 and info["class"] == 0 and info["subclass"] is None
    assert info["crc_ok"] is False and info["decrypted"] is False
    code, out, _ = run(capsys, "decode", "23716100501183194197")
    assert "encrypted" in out


def test_decode_wrong_key_reports_crc(capsys):
    code, out, _ = run(capsys, "decode", "23716100501183194197", "--decoder-key",
                       "e94023262e9993c2", "--json")
    assert code == 1 and json.loads(out)["crc_ok"] is False


@pytest.mark.parametrize(("argv", "named"), [
    (["decode", "2371610050118319419"], "19 digits"),
    (["decode", "2371610050118319419x"], "non-digit"),
    (["decode", "23716100501183194197", "--decoder-key", "e653341f9d5bf3"], "key"),
    (["vend", "credit", "--subclass", "0", "--amount", "1820162.5", "--decoder-key", DK02],
     "maximum 1820162.4"),
    (["vend", "credit", "--subclass", "0", "--amount", "1", "--decoder-key", DK02,
      "--colour", "red"], "--colour"),
    (["vend", "credit", "--subclass", "0", "--amount", "1"], "--decoder-key"),
    (["vend", "credit", "--subclass", "9", "--amount", "1", "--decoder-key", DK02],
     "subclass"),
    (["vend", "credit", "--subclass", "0", "--amount", "1", "--decoder-key", DK02,
      "--tid", "5", "--at", "2004-01-01 00:00"], "not both"),
    (["vend", "credit", "--subclass", "0", "--amount", "1", "--decoder-key", DK02,
      "--at", "2025-01-01 00:00", "--base-date", "1993"], "2024-11-24 20:15"),
    (["vend", "credit", "--subclass", "0", "--amount", "1", "--decoder-key", DK02,
      "--at", "yesterday"], "YYYY-MM-DD"),
    (["vend", "credit", "--subclass", "0", "--amount", "1", "--dkga", "02"], "--vending-key"),
    (["keygen", "--dkga", "02"], "required"),
    (["frobnicate"], "frobnicate"),
])
def test_wrong_input_one_line_naming_the_problem(capsys, argv, named):
    code, out, err = run(capsys, *argv)
    assert code != 0
    assert out == ""
    assert len(err.splitlines()) == 1
    assert err.startswith("rig sts: ") and "error:" not in err
    assert named in err


def test_help_exits_zero(capsys):
    code, out, _ = run(capsys, "vend", "--help")
    assert code == 0 and "KIND" in out


def test_console_entry_point_in_a_subprocess():
    result = subprocess.run(
        [sys.executable, "-m", "rig", "sts", "vend", "test", "--control", "1"],
        cwd=ROOT, capture_output=True, text=True, timeout=60, check=False,
    )
    assert (result.returncode, result.stdout) == (0, "00000000000150997584\n")
    bad = subprocess.run(
        [sys.executable, "-m", "rig", "sts", "decode", "123"],
        cwd=ROOT, capture_output=True, text=True, timeout=60, check=False,
    )
    assert bad.returncode == 2 and len(bad.stderr.splitlines()) == 1


# --- the base date in force, key errors, help --------------------------------------------


def test_vend_without_at_uses_the_base_date_in_force_now(capsys):
    # now is past the 1993 rollover (2024-11-24 20:15): the 1993 default refused every token
    code, out, err = run(capsys, "vend", "credit", "--subclass", "0", "--amount", "5",
                         "--decoder-key", DK02, "--json")
    assert (code, err) == (0, "")
    assert json.loads(out)["decoded"][0]["base_date"] == 2014


@pytest.mark.parametrize(("at", "base_date", "tid"), [
    ("2024-11-24 20:15", 1993, 0xFFFFFF),  # the last minute of the 1993 range
    # 2014-01-01 .. 2024-11-24: 3652 + 328 = 3980 days; + 20:16 -> 3980*1440 + 1216
    ("2024-11-24 20:16", 2014, 5732416),
    ("2045-11-24 20:15", 2014, 0xFFFFFF),  # 2014 stays in force past 2035-01-01
    # 2035-01-01 .. 2045-11-24: 3653 + 327 = 3980 days again
    ("2045-11-24 20:16", 2035, 5732416),
])
def test_vend_default_base_date_follows_the_rollover(capsys, at, base_date, tid):
    code, out, _ = run(capsys, "vend", "clear-tamper", "--decoder-key", DK02, "--at", at,
                       "--rnd", "5", "--json")
    info = json.loads(out)["decoded"][0]
    assert (code, info["base_date"], info["tid"]) == (0, base_date, tid)
    assert info["tid_date"] == at


def test_base_date_in_force_edges():
    from datetime import datetime

    from sts.errors import TIDRangeError
    from sts.tid import base_date_in_force

    assert base_date_in_force(datetime(1993, 1, 1)) == 1993
    assert base_date_in_force(datetime(2024, 11, 24, 20, 15, 59)) == 1993  # seconds dropped
    assert base_date_in_force(datetime(2066, 11, 24, 20, 15)) == 2035
    for outside in (datetime(1992, 12, 31, 23, 59), datetime(2066, 11, 24, 20, 16)):
        with pytest.raises(TIDRangeError, match="outside every base date"):
            base_date_in_force(outside)


def test_keygen_default_base_date_is_the_one_in_force_now(capsys):
    dkga04 = ["keygen", "--dkga", "04", "--vending-key",
              "abababababababab949494949494949401234567", "--pan", "600727000000000009",
              "--sgc", "201457", "--ti", "01", "--krn", "1", "--kt", "2"]
    assert run(capsys, *dkga04) == run(capsys, *dkga04, "--base-date", "2014")
    assert run(capsys, *dkga04)[1] != run(capsys, *dkga04, "--base-date", "1993")[1]


@pytest.mark.parametrize(("argv", "message"), [
    (["decode", "23716100501183194197", "--decoder-key", "e65g341f9d5bf36f"],
     "rig sts: --decoder-key: 'g' at position 4 is not a hex digit"),
    (["decode", "23716100501183194197", "--decoder-key", "0xe653 341f 9d5b f3z6"],
     "rig sts: --decoder-key: 'z' at position 20 is not a hex digit"),
    (["vend", "key-change", "--decoder-key", DK02, "--new-decoder-key", "060b8643c59a27f!",
      "--new-kt", "2", "--new-krn", "1", "--new-ti", "02"],
     "rig sts: --new-decoder-key: '!' at position 16 is not a hex digit"),
    (["keygen", *KEYGEN02[:2], "--vending-key", "abababab-abababab", *KEYGEN02[4:]],
     "rig sts: --vending-key: '-' at position 9 is not a hex digit"),
    (["decode", "23716100501183194197", "--decoder-key", "e653341f9d5bf3"],
     "rig sts: --decoder-key must be 16 hex digits (EA07) or 32 (EA11), got 14"),
    (["decode", "23716100501183194197", "--decoder-key", "e653341f9d5bf3", "--ea", "07"],
     "rig sts: --decoder-key for EA07 (STA) must be 16 hex digits (64 bits), got 14"),
])
def test_a_bad_key_names_the_option_and_the_character(capsys, argv, message):
    code, out, err = run(capsys, *argv)
    assert (code, out, err) == (2, "", message + "\n")


def test_options_a_kind_does_not_use(capsys):
    code, out, _ = run(capsys, "vend", "test", "--help")
    assert code == 0 and "--control" in out and "--mfr-digits" in out
    for unused in ("--decoder-key", "--vending-key", "--base-date", "--tid", "--at", "--rnd"):
        assert unused not in out
    code, out, _ = run(capsys, "vend", "key-change", "--help")
    assert code == 0 and "--decoder-key" in out and "--tid" not in out and "--rnd" not in out
    code, out, _ = run(capsys, "vend", "currency", "--help")
    assert "--at" in out and "--rnd" not in out  # S&E takes the random number's place
    assert run(capsys, "vend", "--rnd", "3", "test", "--control", "1") == (
        2, "", "rig sts: a test token does not use --rnd\n")
    code, _, err = run(capsys, "vend", "test", "--control", "1", "--decoder-key", DK02)
    assert (code, err) == (2, "rig sts: a test token does not use --decoder-key\n")
    code, _, err = run(capsys, "vend", "credit", "--subclass", "0", "--amount", "1",
                       "--decoder-key", DK02, "--colour", "red", "--vending-kee", DK02)
    assert (code, err) == (2, "rig sts: unrecognized arguments: --colour, --vending-kee "
                              "(and their values)\n")


def _actions(parser):
    import argparse

    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for sub in action.choices.values():
                yield from _actions(sub)
        elif not isinstance(action, argparse._HelpAction):
            yield parser.prog, action


def test_every_option_has_help_text():
    from rig.commands.sts_tools import build_parser

    missing = [f"{prog} {action.option_strings or action.dest}"
               for prog, action in _actions(build_parser()) if not action.help]
    assert missing == []
