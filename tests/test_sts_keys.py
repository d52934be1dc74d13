"""MeterPAN / Luhn and decoder key generation (DKGA02, DKGA04).

Known answers from tests/data/sts_vectors.json: kinds dkga02, dkga02_intermediate, dkga04,
luhn_check_digit, and the decoder keys listed in the token vectors (every distinct key
parameter set) and the old/new keys of the key change sets.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from pathlib import Path

import pytest
from Crypto.Cipher import DES

from sts.ciphers import decrypt_block
from sts.errors import KeyFormatError
from sts.keys import (
    KeyType,
    control_block,
    derive_decoder_key,
    dkga02,
    dkga04,
    dkga04_message,
)
from sts.pan import MeterPAN, luhn_check_digit

DATA = Path(__file__).resolve().parent / "data" / "sts_vectors.json"
VECTORS = json.loads(DATA.read_text())
KEY_FIELDS = ("dkga", "vending_key_hex", "meter_pan", "sgc", "ti", "krn", "kt", "base_date",
              "ea")
VK02 = bytes.fromhex("abababababababab")
VK04 = bytes.fromhex("abababababababab949494949494949401234567")
PAN11 = "600727000000000009"
PAN13 = "000001000000000082"


def _vectors(kind: str) -> list:
    items = [v for v in VECTORS if v["kind"] == kind]
    assert items, f"no {kind} vectors in {DATA.name}"
    return [pytest.param(v, id=f"{kind}-{i}") for i, v in enumerate(items)]


def _derive(params: dict) -> bytes:
    return derive_decoder_key(
        dkga=params["dkga"], vending_key=bytes.fromhex(params["vending_key_hex"]),
        pan=params["meter_pan"], sgc=params["sgc"], ti=params["ti"], krn=params["krn"],
        kt=params["kt"], base_date=int(params["base_date"]), ea=params["ea"],
    )


# --- Luhn and MeterPAN --------------------------------------------------------------------


@pytest.mark.parametrize("vector", _vectors("luhn_check_digit"))
def test_luhn_vector(vector):
    assert luhn_check_digit(vector["inputs"]["digits"]) == vector["expected"]["check_digit"]


@pytest.mark.parametrize("digits", ["", "12a4", "١٢٣", "12 34"])
def test_luhn_needs_ascii_digits(digits):
    with pytest.raises(KeyFormatError, match="decimal digits"):
        luhn_check_digit(digits)


@pytest.mark.parametrize("drn", ["12345678904", "11111111113"])
def test_bad_drn_check_digit_rejected(drn):
    # NOTES §9: CTSA17 says these meter numbers must be refused.
    with pytest.raises(KeyFormatError, match=f"meter number \\(DRN\\) {drn}: DRN check digit"):
        MeterPAN.from_drn(drn)
    pan_digits = "600727" + drn
    pan_digits += str(luhn_check_digit(pan_digits))  # a right PAN check digit, wrong DRN one
    with pytest.raises(KeyFormatError, match="DRN check digit"):
        MeterPAN.parse(pan_digits)


def test_pan_with_11_digit_drn():
    pan = MeterPAN.parse(PAN11)
    assert (pan.iin, pan.drn, pan.mfr_code, pan.mfr_digits, pan.dsn) == (
        "600727", "00000000000", 0, 2, "00000000")
    assert str(pan) == pan.digits == PAN11
    assert f"{pan.pan_block:016x}" == "0072700000000000"
    assert MeterPAN.from_drn("00000000000") == pan


def test_pan_with_13_digit_drn():
    pan = MeterPAN.parse(PAN13)
    assert (pan.iin, pan.drn, pan.mfr_code, pan.mfr_digits, pan.dsn) == (
        "0000", "0100000000008", 100, 4, "00000000")
    assert f"{pan.pan_block:016x}" == "0000100000000008"
    assert MeterPAN.from_drn("0100000000008").digits == PAN13


def test_pan_from_drn_builds_both_check_digits():
    pan = MeterPAN.from_drn("11111111115")
    assert pan.digits == "600727111111111153"
    assert (pan.mfr_code, pan.dsn) == (11, "11111111")
    assert f"{MeterPAN.from_drn('12345678903').pan_block:016x}" == "0072712345678903"


def test_pan_block_for_common_key_zeroes_the_drn():
    assert f"{MeterPAN.parse(PAN11).pan_block_for(KeyType.DCTK):016x}" == "0072700000000000"
    meter = MeterPAN.from_drn("11111111115")
    assert f"{meter.pan_block_for(3):016x}" == "0072700000000000"
    assert f"{meter.pan_block_for(KeyType.DUTK):016x}" == "0072711111111115"
    assert f"{MeterPAN.from_drn('0100000000008').pan_block_for(3):016x}" == "0" * 16


@pytest.mark.parametrize("text, message", [
    ("600727000000000008", "PAN check digit is 8, Luhn gives 9"),
    ("600727000000000019", r"meter number \(DRN\) 00000000001: DRN check digit is 1"),
    ("700727000000000009", "neither IIN 600727"),
    ("60072700000000000", "must be 18 digits"),
    ("6007270000000000O9", "must be 18 digits"),
])
def test_pan_errors_name_the_failed_check(text, message):
    with pytest.raises(KeyFormatError, match=message):
        MeterPAN.parse(text)


def test_pan_spaces_and_dashes_allowed():
    assert MeterPAN.parse("6007 2700 0000 0000 09").digits == PAN11
    assert MeterPAN.parse("600727-00000000000-9").digits == PAN11


def test_pan_fields_checked_on_direct_construction():
    with pytest.raises(KeyFormatError, match="IIN must be 600727 or 0000"):
        MeterPAN("123456", "00000000000")
    with pytest.raises(KeyFormatError, match="is 11 digits"):
        MeterPAN("600727", "0100000000008")
    with pytest.raises(KeyFormatError, match="11 or 13 digits"):
        MeterPAN.from_drn("123")


# --- DKGA02 -------------------------------------------------------------------------------


@pytest.mark.parametrize("vector", _vectors("dkga02"))
def test_dkga02_vector(vector):
    inputs, expected = vector["inputs"], vector["expected"]
    pan = MeterPAN.parse(inputs["meter_pan"])
    assert f"{pan.pan_block:016x}" == inputs["pan_block"]
    cb = control_block(inputs["kt"], inputs["sgc"], inputs["ti"], inputs["krn"])
    assert f"{cb:016x}" == inputs["control_block"]
    key = dkga02(bytes.fromhex(inputs["vending_key_hex"]), inputs["meter_pan"], inputs["sgc"],
                 inputs["ti"], inputs["krn"], inputs["kt"])
    assert key.hex() == expected["decoder_key_hex"]
    # Nectar prints the same key byte-reversed (NOTES §8.3 FLAG)
    assert key[::-1].hex() == expected["nectar_internal_repr_hex"]


@pytest.mark.parametrize("vector", _vectors("dkga02_intermediate"))
def test_dkga02_intermediates(vector):
    inputs, expected = vector["inputs"], vector["expected"]
    x = int(inputs["pan_block"], 16) ^ int(inputs["control_block"], 16)
    assert f"{x:016x}" == expected["pan_xor_cb_hex"]
    vk = bytes.fromhex(inputs["vending_key_hex"])
    des = DES.new(vk, DES.MODE_ECB).encrypt(x.to_bytes(8, "big"))
    assert des.hex() == expected["des_ecb_vk(pan_xor_cb)_hex"]
    key = dkga02(vk, PAN11, "123456", "01", 1, 2)
    assert key.hex() == expected["decoder_key_hex"]


def test_control_block_examples():
    assert f"{control_block(2, '123456', '01', 1):016X}" == "2123456011FFFFFF"
    assert f"{control_block(KeyType.DUTK, '123456', '07', 1):016X}" == "2123456071FFFFFF"
    assert f"{control_block(1, '000000', 99, 9):016X}" == "1000000999FFFFFF"


def test_dkga02_common_key_is_the_same_for_every_meter_of_the_group():
    a = dkga02(VK02, PAN11, "123456", "01", 1, KeyType.DCTK)
    b = dkga02(VK02, MeterPAN.from_drn("11111111115"), "123456", "01", 1, KeyType.DCTK)
    assert a == b
    assert dkga02(VK02, PAN11, "123456", "01", 1, 2) != dkga02(
        VK02, MeterPAN.from_drn("11111111115"), "123456", "01", 1, 2)


# --- DKGA04 -------------------------------------------------------------------------------


@pytest.mark.parametrize("vector", _vectors("dkga04"))
def test_dkga04_vector(vector):
    inputs, expected = vector["inputs"], vector["expected"]
    vk = bytes.fromhex(inputs["vending_key_hex"])
    args = (inputs["meter_pan"], inputs["sgc"], inputs["ti"], inputs["krn"], inputs["kt"],
            int(inputs["base_date"]), inputs["ea"])
    msg = dkga04_message(*args)
    assert msg.hex() == expected["hmac_message_hex"]
    assert hmac.new(vk, msg, hashlib.sha256).hexdigest() == expected["hmac_sha256_hex"]
    key = dkga04(vk, *args)
    assert len(key) * 8 == inputs["decoder_key_bits"]
    assert key.hex() == expected["decoder_key_hex"]


def test_dkga04_ea11_message_and_key_length():
    msg = dkga04_message(PAN11, "123457", "01", 1, 2, 1993, "11")
    assert msg[7:10] == b"\x0211" and msg[-4:] == b"\x00\x00\x00\x80"
    key = dkga04(VK04, PAN11, "123457", "01", 1, 2, 1993, "11")
    assert key == hmac.digest(VK04, msg, hashlib.sha256)[:16]
    assert key.hex() == "f94b6ed353c3bfdb113e2d3a7ea3c41d"


@pytest.mark.parametrize("base_date, code", [(1993, b"93"), (2014, b"14"), (2035, b"35"),
                                             ("14", b"14")])
def test_dkga04_base_date_code(base_date, code):
    assert dkga04_message(PAN11, "123457", "01", 1, 2, base_date, "07")[5:7] == code


# --- decoder keys of the token vectors ----------------------------------------------------


def _token_key_sets() -> list:
    """Every distinct key parameter set of the token vectors, with the decoder keys the
    vectors list for it (none for the sets whose vectors only assert tokens)."""
    sets: dict[tuple, set] = {}
    for v in VECTORS:
        if v["kind"].startswith("token_class") and "dkga" in v["inputs"]:
            params = tuple(v["inputs"][f] for f in KEY_FIELDS)
            keys = sets.setdefault(params, set())
            if "decoder_key_hex(derived)" in v["expected"]:
                keys.add(v["expected"]["decoder_key_hex(derived)"])
    return [pytest.param(dict(zip(KEY_FIELDS, p, strict=True)), k,
                         id="-".join(str(x) for x in p if x != p[1]))
            for p, k in sets.items()]


TOKEN_KEY_SETS = _token_key_sets()


def test_token_vectors_have_key_sets():
    assert len(TOKEN_KEY_SETS) >= 9
    assert sum(1 for p in TOKEN_KEY_SETS if p.values[1]) >= 9


@pytest.mark.parametrize("params, keys", TOKEN_KEY_SETS)
def test_decoder_key_of_token_vectors(params, keys):
    key = _derive(params)
    assert len(key) == (16 if params["ea"] == "11" else 8)
    if keys:
        assert keys == {key.hex()}
    else:
        _assert_key_opens_its_tokens(params, key)


def _crc(data50: int, currency: bool) -> int:
    """NOTES §5: CRC-16/MODBUS over the 7 data bytes (+ 0x01 for CRC_C), bytes swapped."""
    crc = 0xFFFF
    for byte in data50.to_bytes(7, "big") + (b"\x01" if currency else b""):
        crc ^= byte
        for _ in range(8):
            crc = (crc >> 1) ^ 0xA001 if crc & 1 else crc >> 1
    return ((crc & 0xFF) << 8) | (crc >> 8)


def _assert_key_opens_its_tokens(params: dict, key: bytes) -> None:
    """A set listed without decoder keys: every one of its tokens must decrypt under the
    derived key to a block whose CRC checks (a wrong key fails 65535 times in 65536)."""
    tokens = [v for v in VECTORS if v["kind"].startswith("token_class")
              and "dkga" in v["inputs"]
              and tuple(v["inputs"][f] for f in KEY_FIELDS) == tuple(params.values())]
    assert tokens
    for v in tokens:
        value = int(v["expected"]["token"])
        cls = (value >> 27) & 3
        raw = (value & ((1 << 64) - 1) & ~(3 << 27)) | ((value >> 64) & 3) << 27
        block = decrypt_block(params["ea"], key, raw)
        subclass = block >> 60
        currency = cls == 0 and 4 <= subclass <= 7
        assert block & 0xFFFF == _crc(cls << 48 | block >> 16, currency), v["notes"]


# The key change vectors name their parameter sets in their notes; these are those sets.
KEY_CHANGE_SETS = [
    ("02", VK02, PAN11, "123456", "01", 1, 2, 1993, "07"),
    ("02", VK02, PAN11, "123456", "02", 1, 2, 1993, "07"),
    ("02", VK02, PAN13, "123456", "01", 1, 2, 1993, "07"),
    ("02", VK02, PAN13, "123456", "02", 1, 2, 1993, "07"),
    ("02", VK02, PAN11, "123456", "01", 2, 2, 1993, "07"),
    ("02", bytes.fromhex("9494949494949494"), PAN11, "888888", "01", 1, 2, 1993, "07"),
    ("04", VK04, PAN11, "123457", "01", 4, 2, 2014, "07"),
    ("04", VK04, PAN11, "123457", "01", 5, 2, 2035, "07"),
    ("04", VK04, PAN13, "123457", "01", 4, 2, 2014, "07"),
    ("04", VK04, PAN13, "123457", "01", 5, 2, 2035, "07"),
    ("04", VK04, PAN11, "123457", "01", 1, 2, 1993, "11"),
    ("04", VK04, PAN11, "123457", "02", 1, 2, 1993, "11"),
]


def test_every_key_change_vector_key_is_derived():
    derived = {
        derive_decoder_key(dkga=d, vending_key=vk, pan=pan, sgc=sgc, ti=ti, krn=krn, kt=kt,
                           base_date=bd, ea=ea).hex()
        for d, vk, pan, sgc, ti, krn, kt, bd, ea in KEY_CHANGE_SETS
    }
    sets = [v["inputs"] for v in VECTORS if v["kind"] == "token_class2_keychange_set"]
    assert sets
    for inputs in sets:
        assert inputs["old_decoder_key_hex(derived)"] in derived
        assert inputs["new_decoder_key_hex(derived)"] in derived


# --- input checking -----------------------------------------------------------------------

GOOD = {"dkga": "02", "vending_key": VK02, "pan": PAN11, "sgc": "123456", "ti": "01",
        "krn": 1, "kt": 2, "base_date": 1993, "ea": "07"}


def test_good_inputs_give_the_ctsa01_key():
    assert derive_decoder_key(**GOOD).hex() == "e653341f9d5bf36f"
    assert derive_decoder_key(**{**GOOD, "dkga": 2, "ti": 1, "ea": 7}).hex() == (
        "e653341f9d5bf36f")


@pytest.mark.parametrize("field, value, message", [
    ("sgc", "12345", r"supply group code \(SGC\) must be 6 digits"),
    ("sgc", "12345a", r"\(SGC\)"),
    ("sgc", 12345, r"\(SGC\) must be 6 digits, got 12345"),
    ("sgc", 123456.0, r"\(SGC\)"),
    ("ti", "00", r"tariff index \(TI\) must be 2 digits 01-99"),
    ("ti", "1", r"\(TI\)"),
    ("ti", 100, r"\(TI\)"),
    ("krn", 0, r"key revision number \(KRN\) must be 1-9"),
    ("krn", 10, r"\(KRN\)"),
    ("krn", "1", r"\(KRN\)"),
    ("krn", True, r"\(KRN\)"),
    ("kt", 4, r"key type \(KT\) must be 0-3"),
    ("kt", -1, r"\(KT\)"),
    ("base_date", 2000, "base date must be 1993, 2014 or 2035"),
    ("pan", "600727000000000008", "PAN check digit"),
    ("pan", "600727000000000019", r"DRN\) 00000000001: DRN check digit"),
    ("vending_key", b"\xab" * 7, r"DKGA02 needs a 64-bit vending key \(16 hex digits\), got 56"),
    ("vending_key", "abababababababab", "DKGA02 vending key must be bytes, got str"),
    ("ea", "12", "unknown encryption algorithm EA12"),
    ("ea", "11", "EA11 .MISTY1. needs a 128-bit key from DKGA04"),
    ("dkga", "05", r"unknown decoder key generation algorithm DKGA05 \(supported: 02, 04\)"),
    ("dkga", "01", "DKGA01 is not supported: DKGA01's cipher step is not public"),
    ("dkga", "03", "DKGA03 is not supported: .*withdrew DKGA03"),
])
def test_bad_dkga02_input_names_the_field(field, value, message):
    with pytest.raises(KeyFormatError, match=message):
        derive_decoder_key(**{**GOOD, field: value})


@pytest.mark.parametrize("field, value, message", [
    ("vending_key", VK02, r"DKGA04 needs a 160-bit vending key \(40 hex digits\), got 64"),
    ("base_date", 1994, "base date must be 1993, 2014 or 2035"),
    ("ea", "10", "unknown encryption algorithm EA10"),
    ("ti", "xx", r"tariff index \(TI\)"),
    ("pan", "1234", "MeterPAN must be 18 digits"),
])
def test_bad_dkga04_input_names_the_field(field, value, message):
    good = {**GOOD, "dkga": "04", "vending_key": VK04, "sgc": "123457"}
    assert derive_decoder_key(**good).hex() == "aa4baa8749c10d27"
    with pytest.raises(KeyFormatError, match=message):
        derive_decoder_key(**{**good, field: value})


def test_key_errors_never_contain_the_key():
    with pytest.raises(KeyFormatError) as info:
        derive_decoder_key(**{**GOOD, "dkga": "04", "vending_key": VK04[:19]})
    assert VK04[:19].hex()[:8] not in str(info.value)
    assert "abab" not in str(info.value)


def test_key_type_values():
    assert [int(k) for k in KeyType] == [0, 1, 2, 3]
    assert [k.name for k in KeyType] == ["DITK", "DDTK", "DUTK", "DCTK"]
