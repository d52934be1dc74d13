"""The reference model of a compliant meter, against hand-worked answers.

Tokens are the public STS 531-1 compliance vectors of tests/data/sts_vectors.json (CTSA01
credit, CTSA03 power limit, CTSA02 test token, CTSA05 key change set: decoder key
e653341f9d5bf36f, base date 1993) and tokens made here under the same key with chosen TIDs.
Every expected number below is worked by hand from the rule and the pln_default profile
(TID store 20, lock-out 3 / 10 s / x2 / 1280 s, trip 30 s, reconnect 120 s, 4 trips in
1800 s, maximum credit 936 kWh, relay test 5 s, earth leakage 0.5 A).
"""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import pytest

import sts
from meterprofile import load_profile
from rig.reference import (
    EarthLeak,
    EnterCode,
    EnterToken,
    KeyData,
    PowerCycle,
    ReferenceMeter,
    SetLoad,
    Wait,
)

VECTORS = json.loads((Path(__file__).parent / "data" / "sts_vectors.json").read_text())
DK = bytes.fromhex("e653341f9d5bf36f")  # CTSA01 decoder key (public test key)
CREDIT_01 = "23716100501183194197"  # 0.1 kWh, TID 5871715 (2004-03-01 13:55, base 1993)
MPL_1000 = "50901894209860263092"  # SetMaximumPowerLimit 1000 W, TID 5910301
TEST_ALL = "56493153725450313471"  # class 1 test 0 (all), MfrCode 00


def vector(kind: str, token: str | None = None) -> dict:
    for v in VECTORS:
        if v["kind"] == kind and (token is None or v["expected"].get("token") == token):
            return v
    raise LookupError(kind)


@pytest.fixture(scope="module")
def profile():
    return load_profile("pln_default")


def meter(profile, **key) -> ReferenceMeter:
    return ReferenceMeter(profile, KeyData(DK, "07", sgc="123456", base_date=1993, **key),
                          mfr_code=47)


class vend:
    """Tokens under the test key with increasing TIDs from 6000000 (2004-05-30, base 1993)."""

    def __init__(self, key: bytes = DK) -> None:
        self.v = sts.Vendor(key, ea="07", base_date=1993, kt=2)
        self.tid = 6000000

    def __getattr__(self, name):
        method = getattr(self.v, name)

        def call(*args, **kw):
            if name != "key_change" and "tid" not in kw:
                self.tid += 1
                kw["tid"] = self.tid
            return method(*args, **kw)
        return call


def only(allowed) -> str:
    assert allowed.values is not None and len(allowed.values) == 1, allowed
    return next(iter(allowed.values))


def test_vectors_are_the_public_ones():
    assert vector("token_class0_credit", CREDIT_01)["expected"]["tid(derived)"] == 5871715
    assert vector("token_class2_register", MPL_1000)["inputs"]["value"] == "MPL 1000 W"
    assert vector("token_class1_test", TEST_ALL)["inputs"]["control_hex"] == "fffffffff"


def test_credit_then_replay(profile):
    m = meter(profile)
    exp = m.apply(EnterToken(CREDIT_01), 10.0)
    assert only(exp.outcome) == "ACCEPT"
    assert exp.facts["credit"].admits(0.1) and not exp.facts["credit"].admits(0.12)
    assert only(exp.facts["relay_closed"]) == 1  # 0.1 kWh > the 0.0 kWh threshold
    assert m.items.tids == [5871715]
    again = m.apply(EnterToken(CREDIT_01), 20.0)
    assert only(again.outcome) == "USED"
    assert m.items.refusals == 1
    assert again.facts["credit"].admits(0.1)  # a refusal changes no credit


def test_power_limit_vector(profile):
    m = meter(profile)
    exp = m.apply(EnterToken(MPL_1000), 1.0)
    assert only(exp.outcome) == "ACCEPT"
    assert only(exp.facts["power_limit"]) == 1000


def test_tid_store_depth_and_old(profile):
    """20 tokens with TIDs 1000..1019 fill the store; TID 999 (below its smallest) is OLD;
    TID 1020 pushes 1000 out, so 1000 is then OLD, not USED."""
    m = meter(profile)
    v = vend()
    for i in range(20):
        assert only(m.apply(EnterToken(v.credit(0, "0.1", tid=1000 + i).digits), i)
                    .outcome) == "ACCEPT"
    assert only(m.apply(EnterToken(v.credit(0, "0.1", tid=999).digits), 30).outcome) == "OLD"
    first = v.credit(0, "0.1", tid=1000)
    assert only(m.apply(EnterToken(first.digits), 31).outcome) == "USED"
    assert only(m.apply(EnterToken(v.credit(0, "0.1", tid=1020).digits), 32).outcome) \
        == "ACCEPT"
    assert only(m.apply(EnterToken(first.digits), 33).outcome) == "OLD"
    assert m.items.credit[0].low == pytest.approx(2.1)


def test_key_expiry(profile):
    """TID 5871715 >> 16 = 89: KEN 88 expires it, KEN 89 does not."""
    assert 5871715 >> 16 == 89
    assert only(meter(profile, ken=88).apply(EnterToken(CREDIT_01), 1).outcome) == \
        "KEY_EXPIRED"
    assert only(meter(profile, ken=89).apply(EnterToken(CREDIT_01), 1).outcome) == "ACCEPT"


def test_key_change_set_vector(profile):
    """CTSA05: the 2-token set to key 060b8643c59a27f1, TI 02, encrypted under the old key."""
    v = vector("token_class2_keychange_set")
    first, second = v["expected"]["tokens"]
    m = meter(profile)
    assert only(m.apply(EnterToken(first), 1).outcome) == "KCT_HELD"
    exp = m.apply(EnterToken(second), 2)
    assert only(exp.outcome) == "ACCEPT"
    assert only(exp.facts["tariff_index"].__class__.exactly("02")) == "02"
    assert exp.facts["tariff_index"].admits("02")
    assert m.items.key.decoder_key == bytes.fromhex("060b8643c59a27f1")
    assert only(m.apply(EnterToken(CREDIT_01), 3).outcome) == "CRC_ERROR"  # old key's token


def test_128_bit_key_change_as_declared(profile):
    """pln_default declares tokens.key_change_128bit = true: the 4-token set (4th section
    first) is held three times and then taken, and the key becomes the 16-byte EA11 key;
    pln_minimal declares false: the 4th section alone is FUNCTION_ERROR; a profile that
    does not say allows either."""
    new = bytes(range(16))
    tokens = [t.digits for t in vend().key_change(new, new_kt=2, new_krn=9, new_ti="01",
                                                   new_ea="11", new_sgc="123456")]
    m = meter(profile)
    outcomes = [only(m.apply(EnterToken(tokens[i]), n).outcome)
                for n, i in enumerate((3, 0, 2, 1), 1)]
    assert outcomes == ["KCT_HELD"] * 3 + ["ACCEPT"]
    assert (m.items.key.decoder_key, m.items.key.ea, m.items.key.krn) == (new, "11", 9)
    minimal = meter(load_profile("pln_minimal"))
    assert only(minimal.apply(EnterToken(tokens[3]), 1).outcome) == "FUNCTION_ERROR"
    unsaid = dataclasses.replace(profile, tokens=dataclasses.replace(
        profile.tokens, key_change_128bit=None))
    allowed = meter(unsaid).apply(EnterToken(tokens[3]), 1).outcome
    assert set(allowed.values) == {"FUNCTION_ERROR", "KCT_HELD"}


def test_key_types(profile):
    """Credit under a DDTK is refused, management accepted; no change to a DITK or DCTK."""
    m = meter(profile, kt=1)
    assert only(m.apply(EnterToken(CREDIT_01), 1).outcome) == "DDTK_ERROR"
    assert only(m.apply(EnterToken(MPL_1000), 2).outcome) == "ACCEPT"
    for kt in (0, 3):
        m = meter(profile)
        tokens = vend().key_change(bytes(8), new_kt=kt, new_krn=2, new_ti="01")
        assert only(m.apply(EnterToken(tokens[0].digits), 1).outcome) == "KEY_TYPE_ERROR"


def test_function_and_range_errors(profile):
    m = meter(profile)
    v = vend()
    assert only(m.apply(EnterToken(v.credit(1, "1").digits), 1).outcome) == "FUNCTION_ERROR"
    assert only(m.apply(EnterToken(v.phase_unbalance(500).digits), 2).outcome) == \
        "FUNCTION_ERROR"  # declared: tokens.phase_unbalance = false
    assert only(m.apply(EnterToken(v.clear_credit(8).digits), 3).outcome) == "RANGE_ERROR"
    # three refusals at 1, 2, 3 s lock until 13 s (declared 3 / 10 s): locked at 4 s
    assert only(m.apply(EnterToken(v.clear_credit(0xFFFF).digits), 4).outcome) == "LOCKED"
    assert only(m.apply(EnterToken(v.clear_credit(0xFFFF).digits), 30).outcome) == "ACCEPT"


def test_lockout_policy(profile):
    """3 refusals lock for 10 s from the 3rd; a 4th refusal after the end locks 20 s."""
    m = meter(profile)
    wrong = vend(bytes(8))
    for t in (0.0, 1.0, 2.0):
        assert only(m.apply(EnterToken(wrong.credit(0, "1").digits), t).outcome) == \
            "CRC_ERROR"
    assert m.items.locked_until == pytest.approx(12.0)
    assert only(m.apply(EnterToken(CREDIT_01), 5.0).outcome) == "LOCKED"
    assert only(m.apply(EnterToken(TEST_ALL), 6.0).outcome) == "ACCEPT"  # class 1 works
    edge = m.apply(EnterToken(wrong.credit(0, "1").digits), 12.5)  # within 1 s of the end
    assert edge.outcome.values == {"CRC_ERROR", "LOCKED"}
    m = meter(profile)
    for t in (0.0, 1.0, 2.0):
        m.apply(EnterToken(wrong.credit(0, "1").digits), t)
    m.apply(EnterToken(wrong.credit(0, "1").digits), 14.0)
    assert m.items.refusals == 4 and m.items.locked_until == pytest.approx(34.0)
    m.apply(PowerCycle(2.0), 15.0)  # declared: a power cycle resets it
    assert m.items.refusals == 0 and m.items.outages == 1
    assert only(m.apply(EnterToken(CREDIT_01), 20.0).outcome) == "ACCEPT"


def test_overload_trip_and_release(profile):
    """Limit 1000 W, 1500 W drawn from t=10: trip at 40 s, reconnect at 160 s; the 4th
    trip inside 1800 s keeps it open until a token."""
    m = meter(profile)
    m.apply(EnterToken(CREDIT_01), 1)
    m.apply(EnterToken(MPL_1000), 2)
    m.apply(SetLoad(1500), 10)
    assert only(m.expected(39.0)["relay_closed"]) == 1
    assert only(m.expected(41.0)["relay_closed"]) == 0
    assert only(m.expected(41.0)["overload_trips"]) == 1
    assert only(m.expected(41.0)["relay_reason"]) == "OVERLOAD"
    assert only(m.expected(159.0)["relay_closed"]) == 0
    assert only(m.expected(161.0)["relay_closed"]) == 1
    assert m.expected(40.0, slack=2.0)["relay_closed"].values == {0, 1}  # at the edge


def test_overload_started_by_a_limit_token_is_timed_from_the_token(profile):
    """1500 W switched on somewhen in 10..30 s (a load command's bracket) under no limit,
    then a 1000 W limit token at 50 s: the trip is due at 80 s exactly (the bracket no
    longer widens it), the reconnection at 200 s, and the load, still on, trips the relay
    again 30 s after it closed (230 s)."""
    m, v = meter(profile), vend()
    m.apply(EnterToken(v.credit(0, "50").digits), 1)
    m.apply(SetLoad(1500), 10, t_late=30)
    m.apply(EnterToken(v.power_limit(1000).digits), 50)
    assert only(m.expected(78.0)["relay_closed"]) == 1
    assert only(m.expected(82.0)["relay_closed"]) == 0
    assert only(m.expected(82.0)["overload_trips"]) == 1
    assert only(m.expected(198.0)["relay_closed"]) == 0
    assert only(m.expected(202.0)["relay_closed"]) == 1
    assert only(m.expected(228.0)["relay_closed"]) == 1
    assert only(m.expected(232.0)["relay_closed"]) == 0
    assert only(m.expected(232.0)["overload_trips"]) == 2


def test_credit_runs_out_under_load(profile):
    """0.1 kWh at 1000 W lasts 360 s (+-1 %): closed at 350 s, open at 370 s."""
    m = meter(profile)
    m.apply(EnterToken(CREDIT_01), 0)
    m.apply(SetLoad(1000), 0)
    assert only(m.expected(350.0)["relay_closed"]) == 1
    assert m.expected(350.0)["credit"].admits(0.1 - 350 / 3600)
    assert only(m.expected(370.0)["relay_closed"]) == 0
    assert m.expected(370.0)["energy_import"].admits(0.1)


def test_relay_test_token(profile):
    m = meter(profile)
    m.apply(EnterToken(CREDIT_01), 0)
    m.apply(EnterToken(TEST_ALL), 10)
    assert only(m.expected(12.0)["relay_closed"]) == 0
    assert only(m.expected(12.0)["relay_reason"]) == "TEST"
    assert only(m.expected(16.0)["relay_closed"]) == 1


def test_overflow(profile):
    m = meter(profile)
    m.items.credit[0].set(935.95)
    assert only(m.apply(EnterToken(CREDIT_01), 1).outcome) == "OVERFLOW"
    m.items.credit[0].set(935.8)
    assert only(m.apply(EnterToken(MPL_1000), 2).outcome) == "ACCEPT"  # not credit


def test_tamper_and_clear(profile):
    m = meter(profile)
    v = vend()
    m.apply(EnterToken(v.credit(0, "5").digits), 0)
    m.apply(EarthLeak(0.4), 1)  # below the declared 0.5 A
    assert not m.items.tamper
    m.apply(EarthLeak(1.0), 2)
    assert m.items.tamper and m.items.tamper_events == 1
    assert only(m.apply(EnterToken(v.credit(0, "1").digits), 4).outcome) == "TAMPER"
    exp = m.apply(EnterToken(v.clear_tamper().digits), 5)
    assert only(exp.outcome) == "ACCEPT" and only(exp.facts["tamper"]) == 0
    assert exp.facts["credit"].admits(5.0)


def test_codes_and_check(profile):
    m = meter(profile)
    m.apply(EnterCode("45620"), 0)
    assert m.items.alarm_level_kwh == 20.0
    found = m.check({"alarm_level": 10.0, "credit": 0.0}, 1.0)
    assert [d.fact for d in found] == ["alarm_level"]
    assert "20" in str(found[0])
    m.apply(Wait(100), 2)
    assert m.t == pytest.approx(102)


def test_matrix_is_complete():
    """Every row's actions exist on the walker, every state it names is one the walker can
    set up, and every item of the matrix is changed by some row (kept by the others)."""
    from rig.reference import matrix as mx
    from rig.reference.walker import Walker

    states = {mx.CREDITED, mx.LOW, mx.EXHAUSTED, mx.TRIPPED, mx.TAMPERED, mx.LOCKED, mx.DDTK,
              mx.EXPIRED}
    for row in mx.ROWS:
        for action in row.actions:
            assert hasattr(Walker, "act_" + action), action
        assert set(row.states) <= states, row.event
        assert set(row.changes) <= set(mx.ITEMS), row.event
    assert mx.items_changed_by_nothing() == []
    assert len(mx.cells()) == sum(len(r.states) for r in mx.ROWS) * len(mx.ITEMS)
    kinds = " ".join(r.event for r in mx.ROWS)
    for needed in ("power cycle", "lock-out starts", "lock-out ends", "earth leakage",
                   "clear tamper", "trip", "released", "relay test", "test token",
                   "long idle", "DDTK", "DITK", "DCTK", "RO", "SGC", "KEN", "OVERFLOW",
                   "USED", "OLD", "CRC", "FUNCTION", "RANGE", "MFR", "FORMAT", "LOCKED"):
        assert needed in kinds, needed
