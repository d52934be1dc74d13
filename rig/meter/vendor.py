"""Token vending for the meter on the bench, as a real vending system does it.

The vending key comes from the bench file's reference (`env:NAME`, `file:PATH`, or literal
hex for test keys only); the decoder key is derived from it and the meter's key settings
with `sts.derive_decoder_key`. Keys live in memory only: no `repr`, message or record shows
one, and each key is put in the run's keyring so the record and the report can redact it.
TIDs are strictly increasing across the whole run, whichever vendor object made the
previous token, as they are from one vending system.
"""

from __future__ import annotations

import os
import random
import secrets
import threading
from dataclasses import replace
from datetime import datetime
from pathlib import Path
from typing import Any

import sts
from drivers.bounded_read import InputRefused, read_file
from rig.bench.config import BenchConfig, MeterKeys
from rig.secret_key import SecretKey, secret
from sts.keys import VENDING_KEY_BYTES
from sts.tid import parse_base_date

KEY_FILE_MAX = 4096  # bytes of a key file: a key is at most 48 hex digits, with comments


class VendingKeyError(ValueError):
    """The bench's vending key cannot be had; the message names the reference, never a key."""


class MeterPanUnknown(ValueError):
    """The bench file names no meter PAN, so no decoder key can be derived for the meter."""


def read_key_file(path: Path, option: str = "meter.keys.vending_key") -> str:
    """The text of a key file, read with a bound: a FIFO (which blocks), a device such as
    /dev/zero (which never ends) or a file longer than KEY_FILE_MAX is refused, naming the
    option and the file, never the key."""
    try:
        data = read_file(path, KEY_FILE_MAX, what="key file")
    except InputRefused as exc:
        raise VendingKeyError(f"vending key ({option}): {exc}") from None
    except OSError as exc:
        raise VendingKeyError(f"vending key ({option}): cannot read key file {path}: "
                              f"{exc.strerror or type(exc).__name__}") from None
    try:
        return data.decode("ascii")
    except UnicodeDecodeError:
        raise VendingKeyError(f"vending key ({option}): key file {path} is not ASCII text") \
            from None


def resolve_vending_key(reference: str, *, base: Path | None = None) -> SecretKey:
    """The vending key behind `env:NAME`, `file:PATH` (relative to `base`) or literal hex."""
    ref = str(reference or "").strip()
    if not ref:
        raise VendingKeyError("the bench file gives no vending key (meter.keys.vending_key)")
    if ref.startswith("env:"):
        name = ref[4:].strip()
        text = os.environ.get(name)
        if text is None:
            raise VendingKeyError(f"vending key: environment variable {name} is not set")
        where = f"environment variable {name}"
    elif ref.startswith("file:"):
        path = Path(ref[5:].strip()).expanduser()
        if not path.is_absolute() and base is not None:
            path = base / path
        text = read_key_file(path)
        where = f"key file {path}"
    else:
        text, where = ref, "meter.keys.vending_key"
    hex_text = "".join(text.split())
    try:
        key = bytes.fromhex(hex_text)
    except ValueError:
        raise VendingKeyError(f"vending key from {where} is not hexadecimal") from None
    if len(key) not in VENDING_KEY_BYTES.values():
        raise VendingKeyError(f"vending key from {where} has {len(key)} bytes "
                              "(DKGA02 takes 8, DKGA04 20: 160 bits)")
    return secret(key)


class TidSequence:
    """One source of strictly increasing TIDs per base date, shared by a run's vendors."""

    def __init__(self) -> None:
        self._last: dict[int, int] = {}
        self._lock = threading.Lock()

    def last(self, base_date: int) -> int:
        with self._lock:
            return self._last.get(base_date, -1)

    def note(self, base_date: int, tid: int) -> None:
        with self._lock:
            self._last[base_date] = max(self._last.get(base_date, -1), tid)


class BenchVendor:
    """Makes tokens under one decoder key (the bench meter's, by default).

    The methods are those of `sts.Vendor`; `credit` also takes the amount alone
    (`credit("12.3")`, subclass 0) or the subclass by keyword (`credit("1", subclass=1)`).
    """

    def __init__(self, decoder_key: bytes, *, ea: str = "07", base_date: int = 1993,
                 kt: int = 2, sgc: str | None = None, pan: str | None = None,
                 tids: TidSequence | None = None, keyring: set[bytes] | None = None,
                 keys: MeterKeys | None = None, vending_key: bytes | None = None) -> None:
        self._key = secret(decoder_key)
        self.ea = ea
        self.base_date = parse_base_date(base_date)
        self.kt = kt
        self.sgc = sgc
        self.pan = pan
        self.tids = tids if tids is not None else TidSequence()
        self.keyring = keyring if keyring is not None else set()
        self._settings = keys
        self._vending_key = vending_key
        self._rng = random.Random(secrets.randbits(64))
        #: the folder a `file:` key reference is relative to (the bench file's)
        self.key_base: Path | None = None
        self.keyring.add(bytes(self._key))
        sts.Vendor(self._key, ea=self.ea, base_date=self.base_date, kt=self.kt)  # checks key

    def __repr__(self) -> str:
        return (f"BenchVendor(pan={self.pan!r}, ea={self.ea!r}, base_date={self.base_date}, "
                f"kt={self.kt})")

    # --- construction ---------------------------------------------------------------------

    @classmethod
    def for_bench(cls, config: BenchConfig, *, tids: TidSequence | None = None,
                  keyring: set[bytes] | None = None) -> BenchVendor:
        """The vendor of the meter on the bench, from the bench file's [meter.keys]."""
        if config.meter.pan is None:
            raise MeterPanUnknown(
                f"bench file {Path(config.path).name} names no [meter] pan: the decoder key is "
                "derived for the meter's PAN; name it there, or run with a meters file "
                "(rig run --meters FILE) or --positions, which read it from the meter")
        keys = config.meter.keys
        keyring = keyring if keyring is not None else set()
        vending_key = resolve_vending_key(keys.vending_key, base=Path(config.path).parent)
        keyring.add(vending_key)
        decoder_key = _derive(vending_key, keys, config.meter.pan)
        vendor = cls(decoder_key, ea=keys.ea, base_date=keys.base_date, kt=keys.kt,
                     sgc=keys.sgc, pan=config.meter.pan, tids=tids, keyring=keyring, keys=keys,
                     vending_key=vending_key)
        vendor.key_base = Path(config.path).parent
        return vendor

    def _need_vending_key(self) -> tuple[bytes, MeterKeys]:
        if self._vending_key is None or self._settings is None:
            raise VendingKeyError("this vendor was made from a decoder key alone: it has no "
                                  "vending key to derive other keys from")
        return self._vending_key, self._settings

    def derive(self, **changes: Any) -> bytes:
        """This meter's decoder key under other settings (krn, ti, sgc, kt, base_date, ea,
        dkga, pan), from the same vending key."""
        vending_key, keys = self._need_vending_key()
        pan = str(changes.pop("pan", self.pan))
        unknown = set(changes) - {"dkga", "sgc", "ti", "krn", "kt", "base_date", "ea", "ken"}
        if unknown:
            raise TypeError(f"derive(): unknown key setting(s) {', '.join(sorted(unknown))}")
        key = _derive(vending_key, replace(keys, **changes), pan)
        self.keyring.add(bytes(key))
        return key

    def with_key(self, decoder_key: bytes, *, base_date: int | None = None,
                 ea: str | None = None, kt: int | None = None, sgc: str | None = None,
                 pan: str | None = None) -> BenchVendor:
        """A vendor under another decoder key (an old key, a stranger's), sharing the run's
        TID sequence and keyring."""
        return BenchVendor(decoder_key, ea=ea or self.ea, base_date=base_date or self.base_date,
                           kt=self.kt if kt is None else kt, sgc=sgc or self.sgc,
                           pan=pan or self.pan, tids=self.tids, keyring=self.keyring,
                           keys=self._settings, vending_key=self._vending_key)

    def for_meter(self, pan: str, **changes: Any) -> BenchVendor:
        """The vendor of another meter (same vending key and settings, another PAN): its
        tokens are what a wrong-meter entry looks like on this bench."""
        sts.MeterPAN.parse(pan)
        key = self.derive(pan=pan, **changes)
        keys = replace(self._settings, **changes) if changes else self._settings
        other = self.with_key(key, pan=pan, base_date=changes.get("base_date"),
                              ea=changes.get("ea"), kt=changes.get("kt"),
                              sgc=changes.get("sgc"))
        other._settings = keys
        return other

    def wide_key(self, *, krn: int) -> SecretKey:
        """This meter's 128-bit (EA11) decoder key of key revision `krn`, by DKGA04 (2018):
        from the bench's vending key when it is DKGA04, else from [meter.keys]
        vending_key_128bit (a DKGA02 vending key makes 64-bit keys only)."""
        vending_key, keys = self._need_vending_key()
        if keys.dkga != "04":
            ref = keys.vending_key_128bit
            if not ref:
                raise VendingKeyError(
                    f"the bench's vending key is DKGA{keys.dkga}, which makes 64-bit keys "
                    "only: a 128-bit key needs a DKGA04 vending key ([meter.keys] "
                    "vending_key_128bit)")
            vending_key = resolve_vending_key(ref, base=self.key_base)
        key = _derive(vending_key, replace(keys, dkga="04", ea="11", krn=krn), str(self.pan))
        self.keyring.add(bytes(key))
        return key

    @property
    def decoder_key(self) -> SecretKey:
        """The key (for a key change to it), as a SecretKey: its repr, str and JSON form
        are masked, so a plan that records or asserts on it leaks nothing."""
        return self._key

    # --- vending --------------------------------------------------------------------------

    def _vendor(self) -> sts.Vendor:
        return sts.Vendor(self._key, ea=self.ea, base_date=self.base_date, kt=self.kt,
                          sgc=self.sgc, rng=self._rng, last_tid=self.tids.last(self.base_date))

    def _issued(self, token: sts.Token) -> sts.Token:
        tid = token.fields.get("tid") if isinstance(token.fields, dict) else None
        if tid is not None:
            self.tids.note(self.base_date, int(tid))
        return token

    def credit(self, *args: Any, subclass: int | None = None, amount: Any = None,
               at: datetime | None = None, tid: int | None = None,
               rnd: int | None = None) -> sts.Token:
        """A credit token: `credit(subclass, amount)` as `sts.Vendor`, or `credit(amount)`."""
        if len(args) == 2:
            subclass, amount = args
        elif len(args) == 1:
            amount = args[0]
        elif args:
            raise TypeError("credit() takes (amount) or (subclass, amount)")
        if amount is None:
            raise TypeError("credit() needs an amount")
        sub = 0 if subclass is None else subclass
        return self._issued(self._vendor().credit(sub, amount, at=at, tid=tid, rnd=rnd))

    def currency(self, subclass: int, amount: Any, **kw: Any) -> sts.Token:
        return self._issued(self._vendor().currency(subclass, amount, **kw))

    def power_limit(self, watts: Any, **kw: Any) -> sts.Token:
        return self._issued(self._vendor().power_limit(watts, **kw))

    def clear_credit(self, register: int | str = 0, **kw: Any) -> sts.Token:
        return self._issued(self._vendor().clear_credit(register, **kw))

    def tariff_rate(self, value: int, **kw: Any) -> sts.Token:
        return self._issued(self._vendor().tariff_rate(value, **kw))

    def clear_tamper(self, **kw: Any) -> sts.Token:
        return self._issued(self._vendor().clear_tamper(**kw))

    def phase_unbalance(self, watts: Any, **kw: Any) -> sts.Token:
        return self._issued(self._vendor().phase_unbalance(watts, **kw))

    def water_factor(self, value: int, **kw: Any) -> sts.Token:
        return self._issued(self._vendor().water_factor(value, **kw))

    def key_change(self, new_decoder_key: bytes, **kw: Any) -> list[sts.Token]:
        """The key change set to `new_decoder_key` (kept in the keyring from now on)."""
        self.keyring.add(bytes(new_decoder_key))
        return self._vendor().key_change(new_decoder_key, **kw)


def _derive(vending_key: bytes, keys: MeterKeys, pan: str) -> SecretKey:
    return secret(sts.derive_decoder_key(
        dkga=keys.dkga, vending_key=vending_key, pan=pan, sgc=keys.sgc, ti=keys.ti,
        krn=keys.krn, kt=keys.kt, base_date=keys.base_date, ea=keys.ea))
