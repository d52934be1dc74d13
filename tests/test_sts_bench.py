"""`rig sts vend|decode --bench [FILE]`: tokens for the meter on a bench, the key taken from
the bench file as the rig's vendor takes it, never printed; and the README's example: a token
vended for the default bench is one its emulated meter accepts."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

import sts
from emulator.setup import MeterSetup
from rig.cli import main

ROOT = Path(__file__).resolve().parent.parent
EMULATED = ROOT / "rig" / "benches" / "emulated.toml"
CREDIT = ["credit", "--subclass", "0", "--amount", "25"]


def run(capsys, *argv: str) -> tuple[int, str, str]:
    code = main(["sts", *argv])
    out, err = capsys.readouterr()
    return code, out, err


@pytest.mark.parametrize("where", [[*CREDIT, "--bench"], ["--bench", *CREDIT],
                                   [*CREDIT, "--bench", str(EMULATED)],
                                   ["--bench", str(EMULATED), *CREDIT]])
def test_vend_for_the_bench_meter_decodes_under_its_key(capsys, where):
    setup = MeterSetup.from_bench_file(EMULATED)
    code, out, err = run(capsys, "vend", *where, "--tid", "6798000", "--json")
    assert (code, err) == (0, "")
    info = json.loads(out)
    decoded = sts.decode(info["tokens"][0], setup.decoder_key, setup.ea)
    assert decoded.crc_ok and decoded.fields["tid"] == 6798000
    assert info["decoded"][0]["amount"] == 25
    assert setup.decoder_key.hex() not in out and "abababababababab" not in out


def test_decode_with_the_bench_key(capsys):
    code, out, _ = run(capsys, "vend", *CREDIT, "--bench", "--tid", "6798000")
    token = out.strip()
    code, out, err = run(capsys, "decode", "--bench", token)
    assert (code, err) == (0, "")
    assert "crc         OK" in out and "base 2014" in out
    setup = MeterSetup.from_bench_file(EMULATED)
    assert setup.decoder_key.hex() not in out


def test_bench_with_other_key_options_is_a_usage_error(capsys):
    code, out, err = run(capsys, "vend", *CREDIT, "--bench", "--decoder-key",
                         "e653341f9d5bf36f", "--ea", "07")
    assert (code, out) == (2, "")
    assert err == ("rig sts: --bench takes the key from the bench file; it cannot go with "
                   "--decoder-key, --ea\n")


def test_a_bench_whose_key_cannot_be_had_names_the_reference(capsys, tmp_path, monkeypatch):
    monkeypatch.delenv("RIG_TEST_NO_VK", raising=False)
    bench = tmp_path / "bench.toml"
    bench.write_text(EMULATED.read_text().replace('vending_key = "abababababababab"',
                                                  'vending_key = "env:RIG_TEST_NO_VK"'))
    code, out, err = run(capsys, "vend", *CREDIT, "--bench", str(bench))
    assert (code, out) == (2, "")
    assert err == "rig sts: vending key: environment variable RIG_TEST_NO_VK is not set\n"
    code, _, err = run(capsys, "vend", *CREDIT, "--bench", str(tmp_path / "none.toml"))
    assert code == 2 and "none.toml does not exist" in err


def test_a_test_token_takes_no_bench(capsys):
    code, _, err = run(capsys, "vend", "test", "--control", "1", "--bench")
    assert code == 2 and "a test token does not use --bench" in err


def test_the_readme_example_the_default_bench_meter_accepts_the_token(capsys):
    code, out, _ = run(capsys, "vend", *CREDIT, "--bench")
    assert code == 0
    token = out.strip()
    assert main(["meter", "enter", token]) == 0
    assert capsys.readouterr().out.startswith("ACCEPT (BENAR)")
