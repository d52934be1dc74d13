"""What the emulated meter is given at manufacture: its PAN and its decoder key register.

Built from a bench TOML's `[meter]` and `[meter.keys]` tables, the same file the rig's vendor
reads, so the emulated meter holds the key the vendor will derive. The vending key may be an
environment reference (`env:NAME`), a file (`file:PATH`) or literal hex (test keys only).
"""

from __future__ import annotations

import os
import stat
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import sts
from sts.keys import check_base_date

DEFAULT_BENCH = Path(__file__).resolve().parent.parent / "rig" / "benches" / "emulated.toml"


KEY_FILE_MAX = 4096  # bytes of a key file (as rig.meter.vendor.KEY_FILE_MAX)


def _read_key_file(path: Path, what: str) -> str:
    """A key file's text, bounded as the rig's vendor reads it (drivers.bounded_read, which
    the emulator may not import): a regular file of at most KEY_FILE_MAX bytes, opened
    non-blocking so a FIFO never hangs the emulator's start, and /dev/zero is refused."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | os.O_CLOEXEC)
    except FileNotFoundError:
        raise ValueError(f"{what}: key file {path} does not exist") from None
    except OSError as exc:
        raise ValueError(f"{what}: cannot read key file {path}: {exc.strerror}") from None
    try:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            raise ValueError(f"{what}: key file {path} is not a regular file")
        data = os.read(fd, KEY_FILE_MAX + 1)
    finally:
        os.close(fd)
    if len(data) > KEY_FILE_MAX:
        raise ValueError(f"{what}: key file {path} holds more than {KEY_FILE_MAX} bytes")
    try:
        return data.decode("ascii").strip()
    except UnicodeDecodeError:
        raise ValueError(f"{what}: key file {path} is not ASCII text") from None


def resolve_secret(reference: str, what: str = "vending key", *,
                   base: Path | None = None) -> str:
    """The text behind `env:NAME`, `file:PATH` (relative to `base`, the bench file's folder,
    as the rig's vendor reads it) or a literal; errors name the reference only."""
    ref = str(reference).strip()
    if ref.startswith("env:"):
        name = ref[4:].strip()
        value = os.environ.get(name)
        if value is None:
            raise ValueError(f"{what}: environment variable {name} is not set")
        return value.strip()
    if ref.startswith("file:"):
        path = Path(ref[5:].strip()).expanduser()
        if not path.is_absolute() and base is not None:
            path = base / path
        return _read_key_file(path, what)
    return ref


@dataclass(frozen=True)
class MeterSetup:
    """PAN, profile name and key register of the emulated meter."""

    pan: str
    profile: str
    dkga: str
    ea: str
    sgc: str
    ti: str
    krn: int
    kt: int
    ken: int
    base_date: int
    decoder_key: bytes = field(repr=False)

    @property
    def meter_pan(self) -> sts.MeterPAN:
        return sts.MeterPAN.parse(self.pan)

    def key_register(self) -> sts.KeyRegister:
        return sts.KeyRegister(decoder_key=self.decoder_key, ea=self.ea, kt=self.kt,
                               krn=self.krn, ti=self.ti, sgc=self.sgc, ken=self.ken,
                               base_date=self.base_date)

    @classmethod
    def from_tables(cls, meter: dict[str, Any], keys: dict[str, Any],
                    source: str = "bench file", base: Path | None = None) -> MeterSetup:
        """Build from the `[meter]` and `[meter.keys]` tables of a bench file."""
        try:
            pan = str(meter["pan"])
            dkga = str(keys.get("dkga", "02"))
            ea = str(keys.get("ea", "07"))
            vk_text = resolve_secret(keys["vending_key"],
                                     "vending key (meter.keys.vending_key)", base=base)
        except KeyError as exc:
            raise ValueError(
                f"{source}: missing key {exc.args[0]!r} in [meter] or [meter.keys]"
            ) from None
        vending_key = sts.parse_key_hex(vk_text, what="vending key")
        base_date = check_base_date(keys.get("base_date", 1993))
        sgc, ti = str(keys.get("sgc", "123456")), str(keys.get("ti", "01"))
        krn, kt = int(keys.get("krn", 1)), int(keys.get("kt", 2))
        decoder_key = sts.derive_decoder_key(dkga=dkga, vending_key=vending_key, pan=pan,
                                             sgc=sgc, ti=ti, krn=krn, kt=kt,
                                             base_date=base_date, ea=ea)
        return cls(pan=pan, profile=str(meter.get("profile", "pln_default")), dkga=dkga, ea=ea,
                   sgc=sgc, ti=ti, krn=krn, kt=kt, ken=int(keys.get("ken", 255)),
                   base_date=base_date, decoder_key=decoder_key)

    @classmethod
    def from_bench_file(cls, path: str | Path) -> MeterSetup:
        """Read a bench TOML (only its [meter] and [meter.keys] tables matter here)."""
        path = Path(path)
        if not path.exists():
            raise ValueError(f"bench file {path} does not exist")
        with path.open("rb") as fh:
            data = tomllib.load(fh)
        meter = dict(data.get("meter", {}))
        keys = meter.pop("keys", {})
        return cls.from_tables(meter, keys, source=str(path), base=path.parent)

    @classmethod
    def default(cls) -> MeterSetup:
        """The emulated bench of `rig/benches/emulated.toml`."""
        return cls.from_bench_file(DEFAULT_BENCH)


def instrument_models(path: str | Path | None) -> dict[str, str]:
    """role -> model name of the bench file's `[instruments.ROLE] model = NAME` (the emulated
    instrument of that role speaks that model's command set); roles left out are absent."""
    if path is None:
        path = DEFAULT_BENCH
    path = Path(path)
    if not path.exists():
        raise ValueError(f"bench file {path} does not exist")
    with path.open("rb") as fh:
        data = tomllib.load(fh)
    out = {}
    for role, table in dict(data.get("instruments", {})).items():
        if isinstance(table, dict) and "model" in table:
            out[str(role)] = str(table["model"])
    return out
