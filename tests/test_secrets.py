"""Keys never reach the record, the report or JUnit, in any form a plan can give them."""

from __future__ import annotations

import json

import pytest
from plugin_support import readable_text, refuse_bench, run_plan

from rig.record.run_record import Redactor, RunRecord
from rig.secret_key import MASK, SecretKey, secret

pytest_plugins = ["pytester"]

KEY = bytes.fromhex("89823b2e9d5bf36f")


def test_secret_key_is_bytes_but_prints_masked():
    key = secret(KEY)
    assert key == KEY and isinstance(key, bytes) and len(key) == 8
    for text in (repr(key), str(key), f"{key}", f"{key!r}", "{}".format(key)):  # noqa: UP032
        assert "89" not in text.lower() or MASK in text
        assert "\\x89" not in text and "89823b2e" not in text
    assert json.dumps({"k": key}, default=lambda v: str(v)) == json.dumps({"k": MASK})
    assert key.reveal_hex() == "89823b2e9d5bf36f"
    assert secret(key) is key


def test_a_secret_key_refuses_to_be_pickled():
    import pickle

    with pytest.raises(TypeError, match="not pickled"):
        pickle.dumps(SecretKey(KEY))


@pytest.mark.parametrize("form", [
    KEY.hex(), KEY.hex().upper(), repr(KEY), str(int.from_bytes(KEY, "big")),
    str(int.from_bytes(KEY, "little")), json.dumps(repr(KEY)),
])
def test_redactor_masks_every_form(form):
    redact = Redactor({KEY})
    assert MASK in redact(f"value: {form} end")
    assert KEY.hex() not in redact(form).lower()


def test_record_masks_a_raw_bytes_key(tmp_path):
    record = RunRecord(tmp_path / "r.jsonl", Redactor({KEY}))
    record.write("measurement", value=KEY, as_int=int.from_bytes(KEY, "big"),
                 as_repr=repr(KEY), wrapped=secret(KEY))
    record.close()
    text = (tmp_path / "r.jsonl").read_text()
    assert "89823b2e" not in text.lower()
    assert str(int.from_bytes(KEY, "big")) not in text
    assert "\\\\x89" not in text and "\\x89" not in text
    assert text.count(MASK) == 4


def test_a_plan_leaking_the_key_in_every_form_leaks_nothing(pytester, monkeypatch):
    refuse_bench(monkeypatch)
    pytester.makepyfile(test_plan='''
import pytest

@pytest.mark.clause("C")
def test_leaks(record, vendor):
    key = vendor.decoder_key
    record("as bytes", key)
    record("as bytes copy", bytes(key))
    record("as int", int.from_bytes(key, "big"))
    record("as repr", repr(bytes(key)))
    record("as hex", key.hex())
    print("key is", bytes(key), int.from_bytes(key, "big"))
    assert bytes(key) == b"0"
''')
    run_plan(pytester, run_id="r").assert_outcomes(failed=1)
    run = pytester.path / "reports" / "r"
    from emulator.setup import MeterSetup

    key = MeterSetup.default().decoder_key
    forms = {key.hex(), key.hex().upper(), repr(key)[2:-1],
             json.dumps(repr(key)[2:-1])[1:-1], str(int.from_bytes(key, "big"))}
    for path in run.iterdir():
        text = readable_text(path)
        for form in forms:
            assert form not in text, (path.name, form)
    assert MASK in (run / "results.jsonl").read_text()
