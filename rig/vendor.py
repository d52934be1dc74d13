"""Token vending for the meter on the bench, as a real vending system does it.

The decoder key is derived from the bench's vending key (resolved from the environment, a
key file or, for test keys, the bench file) and the meter's key settings; it is held in
memory only and never printed. TIDs are strictly increasing across the whole run, like a
vending system's, whichever vendor object made the previous token.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

import sts
from emulator.setup import resolve_secret
from rig.config import BenchConfig


class TidClock:
    """One source of strictly increasing TIDs shared by every vendor of a run."""

    def __init__(self) -> None:
        self.last: dict[int, int] = {}  # base date -> last TID issued


class BenchVendor:
    """Makes tokens for one key (the bench meter's by default)."""

    def __init__(self, decoder_key: bytes, *, ea: str, base_date: int, kt: int = 2,
                 sgc: str | None = None, tids: TidClock | None = None,
                 pan: str | None = None) -> None:
        self._key = decoder_key
        self.ea, self.base_date, self.kt, self.sgc, self.pan = ea, base_date, kt, sgc, pan
        self.tids = tids or TidClock()
        self._vendor = sts.Vendor(decoder_key, ea=ea, base_date=base_date, kt=kt, sgc=sgc,
                                  last_tid=self.tids.last.get(base_date, -1))

    def __repr__(self) -> str:
        return f"BenchVendor(ea={self.ea!r}, base_date={self.base_date}, pan={self.pan!r})"

    @property
    def decoder_key(self) -> bytes:
        """The key (for key change tokens to it); never print it."""
        return self._key

    @classmethod
    def for_bench(cls, config: BenchConfig, tids: TidClock | None = None) -> BenchVendor:
        keys = config.meter.keys
        vending_key = sts.parse_key_hex(resolve_secret(keys.vending_key), what="vending key")
        dk = sts.derive_decoder_key(dkga=keys.dkga, vending_key=vending_key,
                                    pan=config.meter.pan, sgc=keys.sgc, ti=keys.ti,
                                    krn=keys.krn, kt=keys.kt, base_date=keys.base_date,
                                    ea=keys.ea)
        vendor = cls(dk, ea=keys.ea, base_date=keys.base_date, kt=keys.kt, sgc=keys.sgc,
                     tids=tids, pan=config.meter.pan)
        vendor._vending_key = vending_key
        vendor._config = config
        return vendor

    def derive(self, **changes: Any) -> bytes:
        """The decoder key of this meter for other key settings (krn, ti, base_date, pan...)."""
        keys = self._config.meter.keys
        params = {"dkga": keys.dkga, "pan": self._config.meter.pan, "sgc": keys.sgc,
                  "ti": keys.ti, "krn": keys.krn, "kt": keys.kt, "base_date": keys.base_date,
                  "ea": keys.ea}
        params.update(changes)
        return sts.derive_decoder_key(vending_key=self._vending_key, **params)

    def with_key(self, decoder_key: bytes, *, base_date: int | None = None,
                 ea: str | None = None, pan: str | None = None) -> BenchVendor:
        """A vendor for another key, sharing the run's TID sequence."""
        other = BenchVendor(decoder_key, ea=ea or self.ea,
                            base_date=base_date or self.base_date, kt=self.kt, sgc=self.sgc,
                            tids=self.tids, pan=pan)
        other._vending_key = getattr(self, "_vending_key", b"")
        other._config = getattr(self, "_config", None)
        return other

    def _note(self, token: sts.Token) -> sts.Token:
        tid = token.fields.get("tid")
        if tid is not None:
            last = self.tids.last.get(self.base_date, -1)
            self.tids.last[self.base_date] = max(last, tid)
        return token

    def _sync(self) -> None:
        last = self.tids.last.get(self.base_date, -1)
        if last > self._vendor.last_tid:
            self._vendor = sts.Vendor(self._key, ea=self.ea, base_date=self.base_date,
                                      kt=self.kt, sgc=self.sgc, last_tid=last)

    def credit(self, amount: Any, subclass: int = 0, *, at: datetime | None = None,
               tid: int | None = None) -> sts.Token:
        self._sync()
        return self._note(self._vendor.credit(subclass, amount, at=at, tid=tid))

    def __getattr__(self, name: str) -> Any:
        """power_limit, clear_credit, clear_tamper, ... with the shared TID sequence."""
        if name.startswith("_") or name not in (
                "currency", "power_limit", "clear_credit", "tariff_rate", "clear_tamper",
                "phase_unbalance", "water_factor", "key_change"):
            raise AttributeError(name)
        method = getattr(self._vendor, name)

        def call(*args: Any, **kwargs: Any) -> Any:
            self._sync()
            result = getattr(self._vendor, name)(*args, **kwargs)
            if isinstance(result, list):
                return result
            return self._note(result)

        call.__doc__ = method.__doc__
        return call
