"""The bench vendor: key references resolved, the decoder key derived, TIDs always rising,
and no key in any message or repr."""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path

import pytest

import sts
from rig.bench.config import load_bench
from rig.meter.vendor import BenchVendor, TidSequence, VendingKeyError, resolve_vending_key

DATA = Path(__file__).resolve().parent / "data"
# STS 531-1 CTSA01 (tests/data/sts_vectors.json): the public test vending key, and what it
# gives for meter 600727000000000009
CTSA01 = next(v for v in json.loads((DATA / "sts_vectors.json").read_text())
              if v["kind"] == "token_class0_credit" and v["expected"]["token"]
              == "23716100501183194197")
VK_HEX = CTSA01["inputs"]["vending_key_hex"]
DK_HEX = CTSA01["expected"]["decoder_key_hex(derived)"]

BENCH = """
[bench]
name = "vendor test"
emulated = true
[meter]
pan = "600727000000000009"
[meter.keys]
dkga = "02"
ea = "07"
sgc = "123456"
ti = "01"
krn = 1
kt = 2
base_date = {base_date}
vending_key = "{ref}"
"""


def bench_file(tmp_path: Path, ref: str, base_date: int = 2014) -> Path:
    path = tmp_path / "bench.toml"
    path.write_text(BENCH.format(ref=ref, base_date=base_date))
    return path


@pytest.fixture
def vendor(tmp_path, monkeypatch) -> BenchVendor:
    monkeypatch.setenv("RIG_TEST_VK", VK_HEX)
    return BenchVendor.for_bench(load_bench(bench_file(tmp_path, "env:RIG_TEST_VK")))


def test_known_answer_decoder_key_and_token(tmp_path, monkeypatch):
    monkeypatch.setenv("RIG_TEST_VK", VK_HEX)
    config = load_bench(bench_file(tmp_path, "env:RIG_TEST_VK", base_date=1993))
    vendor = BenchVendor.for_bench(config)
    assert vendor.decoder_key.hex() == DK_HEX
    token = vendor.credit(0, "0.1", at=datetime(2004, 3, 1, 13, 55), rnd=5)
    assert token.digits == "23716100501183194197"
    assert token.fields["tid"] == CTSA01["expected"]["tid(derived)"]


def test_key_references(tmp_path, monkeypatch):
    monkeypatch.setenv("RIG_TEST_VK", VK_HEX)
    assert resolve_vending_key("env:RIG_TEST_VK").hex() == VK_HEX
    (tmp_path / "vk.hex").write_text(VK_HEX.upper() + "\n")
    assert resolve_vending_key("file:vk.hex", base=tmp_path).hex() == VK_HEX
    assert resolve_vending_key(f"file:{tmp_path / 'vk.hex'}").hex() == VK_HEX
    assert resolve_vending_key("abab abab abab abab").hex() == VK_HEX
    # a key file named relative to the bench file
    config = load_bench(bench_file(tmp_path, "file:vk.hex"))
    assert BenchVendor.for_bench(config).decoder_key.hex() == DK_HEX


@pytest.mark.parametrize(("ref", "message"), [
    ("env:RIG_TEST_NO_SUCH_VAR", "environment variable RIG_TEST_NO_SUCH_VAR is not set"),
    ("file:/nonexistent/vk.hex", "cannot read key file /nonexistent/vk.hex"),
    ("", "gives no vending key"),
    ("zzzzzzzzzzzzzzzz", "vending key from meter.keys.vending_key is not hexadecimal"),
    ("abababab", "has 4 bytes"),
])
def test_bad_key_references_name_the_reference(ref, message, monkeypatch):
    monkeypatch.delenv("RIG_TEST_NO_SUCH_VAR", raising=False)
    with pytest.raises(VendingKeyError, match=message):
        resolve_vending_key(ref)


def test_a_bad_key_is_never_echoed(monkeypatch):
    secret = "abababababababab0"  # one digit too many: odd length, not hex bytes
    monkeypatch.setenv("RIG_TEST_VK", secret)
    with pytest.raises(VendingKeyError) as info:
        resolve_vending_key("env:RIG_TEST_VK")
    assert secret not in str(info.value) and "RIG_TEST_VK" in str(info.value)


def test_tids_rise_across_every_vendor_of_the_run(vendor):
    other_key = vendor.with_key(vendor.derive(krn=2))
    other_meter = vendor.for_meter("600727471234567834")
    minute = datetime(2020, 5, 5, 12, 0)
    tids = []
    for v in (vendor, other_key, vendor, other_meter, vendor, other_key):
        tids.append(v.credit("1", at=minute).fields["tid"])
    tids.append(vendor.power_limit(1000, at=minute).fields["tid"])
    tids.append(other_key.clear_credit(0, at=minute).fields["tid"])
    assert tids == sorted(set(tids)) and len(tids) == 8
    assert tids[0] == sts.tid_from_datetime(minute, 2014)
    # a vendor made later in the run still goes on from the last TID
    fresh = BenchVendor(vendor.decoder_key, ea="07", base_date=2014, tids=vendor.tids)
    assert fresh.credit("1", at=minute).fields["tid"] == tids[-1] + 1
    # another base date keeps its own sequence
    k93 = vendor.with_key(vendor.decoder_key, base_date=1993)
    t93 = k93.credit("1", at=minute).fields["tid"]
    assert t93 == sts.tid_from_datetime(minute, 1993)


def test_tid_sequence_alone():
    seq = TidSequence()
    assert seq.last(1993) == -1
    seq.note(1993, 10)
    seq.note(1993, 5)
    assert seq.last(1993) == 10 and seq.last(2014) == -1


def test_tokens_decode_under_the_right_key_only(vendor):
    token = vendor.credit("12.3")
    decoded = sts.decode(token.digits, vendor.decoder_key)
    assert decoded.crc_ok and str(decoded.fields["amount"]) == "12.3"
    stranger = vendor.for_meter("600727471234567834")
    assert not sts.decode(stranger.credit("1").digits, vendor.decoder_key).crc_ok
    water = vendor.credit("2.5", subclass=1)
    assert water.subclass == 1
    with pytest.raises(TypeError):
        vendor.credit()


def test_wrong_meter_token_refused_by_the_meter_validator(vendor):
    register = sts.KeyRegister(decoder_key=vendor.decoder_key, ea="07", kt=2, krn=1, ti="01",
                               sgc="123456", base_date=2014)
    meter = sts.MeterValidator(register, mfr_code=0)
    good = meter.validate(vendor.credit("1").digits)
    assert meter.commit(good) == sts.Outcome.ACCEPT
    with pytest.raises(sts.CRCError):
        meter.validate(vendor.for_meter("600727471234567834").credit("1").digits)
    with pytest.raises(sts.CRCError):  # the meter's own PAN under the next key revision
        meter.validate(vendor.with_key(vendor.derive(krn=2)).credit("1").digits)


def test_no_key_in_repr_and_every_key_in_the_keyring(vendor):
    k2 = vendor.derive(krn=2)
    other = vendor.with_key(k2)
    for text in (repr(vendor), repr(other)):
        assert DK_HEX not in text and VK_HEX not in text and k2.hex() not in text
    assert {bytes.fromhex(VK_HEX), bytes.fromhex(DK_HEX), k2} <= vendor.keyring
    new = bytes(range(8))
    vendor.key_change(new, new_kt=2, new_krn=3, new_ti="01")
    assert new in vendor.keyring


def test_derive_rejects_unknown_settings(vendor):
    with pytest.raises(TypeError, match="colour"):
        vendor.derive(colour="blue")
    bare = BenchVendor(bytes.fromhex(DK_HEX))
    with pytest.raises(VendingKeyError, match="no vending key"):
        bare.derive(krn=2)


# DKGA04 EA11, STS 531-1 (tests/data/sts_vectors.json, token_class0_credit, EA11): the public
# 160-bit test vending key and the 128-bit decoder key it gives for meter 600727000000000009
VK04_HEX = "abababababababab949494949494949401234567"
DK11_HEX = "f94b6ed353c3bfdb113e2d3a7ea3c41d"


def test_the_128_bit_key_comes_from_a_dkga04_vending_key(tmp_path, monkeypatch):
    """wide_key: from [meter.keys] vending_key_128bit beside a DKGA02 bench key, from the
    bench's own key when it is DKGA04; a DKGA02 bench without one is told what to add."""
    monkeypatch.setenv("RIG_TEST_VK", VK_HEX)
    text = (BENCH.format(ref="env:RIG_TEST_VK", base_date=1993)
            .replace('sgc = "123456"', 'sgc = "123457"'))
    narrow = tmp_path / "narrow.toml"
    narrow.write_text(text)
    with pytest.raises(VendingKeyError, match=r"vending_key_128bit"):
        BenchVendor.for_bench(load_bench(narrow)).wide_key(krn=1)
    beside = tmp_path / "beside.toml"
    beside.write_text(text + f'vending_key_128bit = "{VK04_HEX}"\n')
    vendor = BenchVendor.for_bench(load_bench(beside))
    assert vendor.wide_key(krn=1).hex() == DK11_HEX
    assert vendor.decoder_key.hex() != DK11_HEX  # the bench's own key is still the DKGA02 one
    own = tmp_path / "own.toml"
    own.write_text(text.replace('dkga = "02"', 'dkga = "04"')
                   .replace("env:RIG_TEST_VK", VK04_HEX))
    assert BenchVendor.for_bench(load_bench(own)).wide_key(krn=1).hex() == DK11_HEX
