"""`rig sts`: derive decoder keys, vend and decode STS tokens from the command line.

    rig sts keygen --dkga 02|04 --vending-key HEX --pan PAN --sgc SGC --ti TI --krn N --kt N
                   [--base-date 1993|2014|2035] [--ea 07|11]
    rig sts vend KIND [KIND options] (--decoder-key HEX --ea EA | keygen options |
                 --bench [FILE]) [--tid N | --at "YYYY-MM-DD HH:MM[:SS]"] [--base-date Y]
                 [--rnd N] [--json]
    rig sts decode TOKEN [--decoder-key HEX --ea EA | keygen options | --bench [FILE]]
                 [--base-date Y] [--json]

`--bench FILE` takes the key from a bench file: its meter's PAN and key settings
([meter.keys]) and its vending key reference, as the rig's vendor does, so a token vended
with it is one the meter on that bench accepts; `--bench` alone is the default emulated bench
(rig/benches/emulated.toml). The key itself is never printed.

Exit status as for every `rig` command (see rig/cli.py): any wrong input exits 2 with one
line `rig sts: <what was wrong>` on stderr; `decode` exits 1 when the CRC does not match
(wrong key or a typing error), 0 otherwise. Keys are printed only by `keygen` (which is
asked for one); an error about a key names the option and the bad character, never the key.

Base date: `vend` defaults to the one in force at the token's time (`--at`, or now, UTC):
1993 up to 2024-11-24 20:15, 2014 up to 2045-11-24 20:15, then 2035; `keygen` to the one in
force now; `decode` (which cannot know when a token was issued) to 1993.
"""

from __future__ import annotations

import argparse
import json
import sys
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import Any, NoReturn

import sts
from sts.decode import normalize_ea
from sts.errors import StsError
from sts.tid import base_date_in_force, datetime_from_tid, parse_base_date, utc_now
from sts.tokens import CLASS_NAMES, subclass_name

PROG = "rig sts"
KINDS = ("credit", "currency", "power-limit", "clear-credit", "tariff-rate", "clear-tamper",
         "phase-unbalance", "water-factor", "key-change", "test")
KEYGEN_OPTIONS = ("dkga", "vending_key", "pan", "sgc", "ti", "krn", "kt")
KEY_OPTIONS = ("decoder_key", *KEYGEN_OPTIONS, "ea", "base_date", "bench")
TIME_OPTIONS = ("tid", "at")
# what each kind of token carries besides its own options (a test token: nothing)
UNUSED: dict[str, tuple[str, ...]] = {
    "test": (*KEY_OPTIONS, *TIME_OPTIONS, "rnd"),
    "key-change": (*TIME_OPTIONS, "rnd"),
    "currency": ("rnd",),
}
HEX_DIGITS = frozenset("0123456789abcdefABCDEF")


class UsageError(Exception):
    """A command line that cannot be run; the message is the one line shown."""


class _Parser(argparse.ArgumentParser):
    """argparse with one-line errors (argparse prints usage + error on two lines)."""

    def error(self, message: str) -> NoReturn:
        raise UsageError(f"{PROG}: {message}")


def unrecognized(words: list[str], kind: str | None) -> str:
    """The error for words argparse did not take. It names the options, never their values
    (a value may be a key); an option the kind of token does not carry says so."""
    options = [w.split("=", 1)[0] for w in words if w.startswith("-")]
    unused = {f"--{name.replace('_', '-')}" for name in UNUSED.get(kind or "", ())}
    if options and len(options) * 2 >= len(words) and set(options) <= unused:
        return f"a {kind} token does not use {', '.join(options)}"
    values = " (and their values)" if len(options) < len(words) else ""
    return f"unrecognized arguments: {', '.join(options) or 'values'}{values}"


# --- option groups --------------------------------------------------------------------------


def _int_range(low: int, high: int, name: str):
    def parse(text: str) -> int:
        try:
            value = int(text, 10)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{name} {text!r} is not an integer") from None
        if not low <= value <= high:
            raise argparse.ArgumentTypeError(f"{name} {value} is out of range {low}..{high}")
        return value
    return parse


def _hex_int(text: str) -> int:
    try:
        return int(text, 16)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not hexadecimal") from None


def _ea(text: str) -> str:
    try:
        return normalize_ea(text)
    except StsError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def _base_date(text: str) -> int:
    try:
        return parse_base_date(text)
    except StsError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def _at(text: str) -> datetime:
    for fmt in ("%Y-%m-%d %H:%M:%S", "%Y-%m-%d %H:%M", "%Y-%m-%dT%H:%M:%S", "%Y-%m-%dT%H:%M"):
        try:
            return datetime.strptime(text.strip(), fmt)
        except ValueError:
            continue
    raise argparse.ArgumentTypeError(f"date {text!r} is not 'YYYY-MM-DD HH:MM[:SS]'")


BASE_DATE_AT_TOKEN = ("base date 1993, 2014 or 2035 (default: the one in force at the "
                      "token's time: 1993 up to 2024-11-24 20:15, 2014 up to 2045-11-24 "
                      "20:15, then 2035)")


def _add_key_options(parser: argparse.ArgumentParser, *, suppress: bool,
                     keygen_required: bool = False,
                     base_date_help: str = BASE_DATE_AT_TOKEN) -> None:
    """Decoder key options (or the keygen options that derive it)."""
    default: Any = argparse.SUPPRESS if suppress else None
    group = parser.add_argument_group("key (decoder key, or the options that derive it)")
    if not keygen_required:
        group.add_argument("--decoder-key", metavar="HEX", default=default,
                           help="the meter's decoder key (16 or 32 hex digits)")
        group.add_argument("--bench", metavar="FILE", nargs="?", const="", default=default,
                           help="the key of the meter on this bench file (its PAN, key "
                                "settings and vending key; without FILE: the default "
                                "emulated bench); instead of the other key options")
    group.add_argument("--dkga", choices=("02", "04"), default=default, required=keygen_required,
                       help="decoder key generation algorithm")
    group.add_argument("--vending-key", metavar="HEX", default=default,
                       required=keygen_required, help="vending key (16 hex digits for DKGA02, "
                       "40 for DKGA04)")
    group.add_argument("--pan", default=default, required=keygen_required,
                       help="MeterPAN, 18 digits")
    group.add_argument("--sgc", default=default, required=keygen_required,
                       help="supply group code, 6 digits")
    group.add_argument("--ti", default=default, required=keygen_required,
                       help="tariff index, 2 digits")
    group.add_argument("--krn", type=_int_range(1, 9, "key revision number"), default=default,
                       required=keygen_required, help="key revision number 1..9")
    group.add_argument("--kt", type=_int_range(0, 3, "key type"), default=default,
                       required=keygen_required, help="key type 0..3 (2 = DUTK)")
    group.add_argument("--ea", type=_ea, default=default,
                       help="encryption algorithm 07 (STA), 09 (DES, deprecated) or 11 "
                            "(MISTY1); default from the key length")
    group.add_argument("--base-date", type=_base_date, default=default,
                       help=base_date_help)


def _add_vend_options(parser: argparse.ArgumentParser, *, suppress: bool,
                      unused: tuple[str, ...] = ()) -> None:
    """The options of `vend` (all of them) or of one KIND (less those it does not use)."""
    default: Any = argparse.SUPPRESS if suppress else None
    if "decoder_key" not in unused:
        _add_key_options(parser, suppress=suppress)
    group = parser.add_argument_group("output" if "tid" in unused else
                                      "token identifier and output")
    if "tid" not in unused:
        group.add_argument("--tid", type=_int_range(0, 0xFFFFFF, "TID"), default=default,
                           help="the TID (minutes since the base date)")
        group.add_argument("--at", type=_at, default=default,
                           help='issue date "YYYY-MM-DD HH:MM[:SS]" (default: now, UTC)')
    if "rnd" not in unused:
        group.add_argument("--rnd", type=_int_range(0, 15, "random number"), default=default,
                           help="the random nibble 0..15 (default: random)")
    group.add_argument("--json", action="store_true",
                       default=argparse.SUPPRESS if suppress else False,
                       help="print a JSON object with the tokens and their decoded fields")


def build_parser() -> _Parser:
    """The `rig sts` argument parser."""
    parser = _Parser(prog=PROG, description="Derive keys, vend and decode STS tokens "
                                            "(IEC 62055-41).")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND",
                                     parser_class=_Parser)

    keygen = commands.add_parser("keygen", help="print the decoder key (lowercase hex)",
                                 description="Derive a meter's decoder key.")
    _add_key_options(keygen, suppress=False, keygen_required=True,
                     base_date_help="base date 1993, 2014 or 2035 (default: the one in force "
                                    "now; DKGA04 derives a different key for each)")

    vend = commands.add_parser("vend", help="print tokens, one per line",
                               description="Vend tokens for one meter.")
    _add_vend_options(vend, suppress=False)
    kinds = vend.add_subparsers(dest="kind", required=True, metavar="KIND",
                                parser_class=_Parser)

    def kind(name: str, help_: str) -> argparse.ArgumentParser:
        sub = kinds.add_parser(name, help=help_, description=help_)
        _add_vend_options(sub, suppress=True, unused=UNUSED.get(name, ()))
        return sub

    credit = kind("credit", "credit in kWh, m3 or minutes (0.1 resolution, rounded up)")
    credit.add_argument("--subclass", type=_int_range(0, 3, "credit subclass"), required=True,
                        help="0 electricity (kWh), 1 water (m3), 2 gas (m3), 3 time (min)")
    credit.add_argument("--amount", required=True, help="amount in the subclass's unit")
    currency = kind("currency", "currency credit (0.00001 resolution, may be negative)")
    currency.add_argument("--subclass", type=_int_range(4, 7, "currency subclass"),
                          required=True, help="4 electricity, 5 water, 6 gas, 7 time")
    currency.add_argument("--amount", required=True, help="amount in currency units")
    kind("power-limit", "set the maximum power limit").add_argument(
        "--watts", required=True, help="limit in watts")
    kind("clear-credit", "clear a credit register").add_argument(
        "--register", required=True, help="register 0..7 (the class 0 subclasses) or 'all'")
    kind("tariff-rate", "set the tariff rate (raw 16-bit value)").add_argument(
        "--value", type=_int_range(0, 0xFFFF, "tariff rate"), required=True,
        help="the rate, 0..65535 (its meaning is the utility's)")
    kind("clear-tamper", "clear the tamper condition")
    kind("phase-unbalance", "set the maximum phase power unbalance limit").add_argument(
        "--watts", required=True, help="limit in watts")
    kind("water-factor", "set the water meter factor (raw 16-bit value)").add_argument(
        "--value", type=_int_range(0, 0xFFFF, "water meter factor"), required=True,
        help="the factor, 0..65535")
    kct = kind("key-change", "key change set (2, 3 or 4 tokens)")
    kct.add_argument("--new-decoder-key", metavar="HEX", required=True,
                     help="the meter's new decoder key (16 hex digits, or 32 for EA11)")
    kct.add_argument("--new-ea", type=_ea, help="EA of the new key (default from its length)")
    kct.add_argument("--new-kt", type=_int_range(0, 3, "new key type"), required=True,
                     help="key type of the new key 0..3 (2 = DUTK)")
    kct.add_argument("--new-krn", type=_int_range(1, 9, "new key revision number"),
                     required=True, help="key revision number of the new key 1..9")
    kct.add_argument("--new-ti", required=True, help="new tariff index, 2 digits")
    kct.add_argument("--new-ken", type=_int_range(0, 255, "new key expiry number"), default=255,
                     help="key expiry number of the new key 0..255: TIDs whose high byte is "
                          "above it are refused (default 255: never expires)")
    kct.add_argument("--new-sgc", help="new supply group code (3-token set for a 64-bit key)")
    kct.add_argument("--rollover", action="store_true", help="set RO: clear the TID store")
    test = kind("test", "class 1 test/display token (not encrypted)")
    test.add_argument("--control", type=_hex_int, required=True,
                      help="control field in hex (bit n = test n; all ones = all tests)")
    test.add_argument("--mfr-code", type=_int_range(0, 9999, "manufacturer code"), default=0,
                      help="manufacturer code the token is for (default 0: any meter)")
    test.add_argument("--mfr-digits", type=int, choices=(2, 4), default=2,
                      help="digits of the manufacturer code: 2 (36-bit control field, "
                           "default) or 4 (28-bit)")

    decode = commands.add_parser("decode", help="print the class, subclass and fields",
                                 description="Decode a token (class 1 needs no key).")
    decode.add_argument("token", help="20 digits (4-4-4-4-4 groups accepted)")
    _add_key_options(decode, suppress=False,
                     base_date_help="base date 1993, 2014 or 2035 the TID is counted from "
                                    "(default 1993: a token does not say when it was issued)")
    decode.add_argument("--json", action="store_true", help="print a JSON object")
    return parser


# --- keys -----------------------------------------------------------------------------------


def key_bytes(text: str, option: str, ea: str | None = None) -> bytes:
    """A key given as hex on the command line (spaces, colons and 0x allowed). A wrong one
    is a UsageError naming the option and the first bad character and its position in the
    text as typed; the key's own digits are never repeated."""
    start = 2 if text.lstrip()[:2].lower() == "0x" else 0
    offset = len(text) - len(text.lstrip())
    for position, char in enumerate(text, start=1):
        if position <= offset + start or char in HEX_DIGITS or char in " :":
            continue
        raise UsageError(f"{PROG}: {option}: {char!r} at position {position} is not a hex digit")
    try:
        return sts.parse_key_hex(text, ea, what=option)
    except StsError as exc:
        raise UsageError(f"{PROG}: {exc}") from None


def bench_argv(argv: list[str]) -> list[str]:
    """`--bench` right before a KIND or a token means the default bench, not a file named
    like them: `rig sts vend --bench credit ...` is read as `--bench= credit ...`."""
    out = list(argv)
    for i, word in enumerate(out[:-1]):
        after = out[i + 1]
        if word == "--bench" and (after in KINDS or (after and
                                                     set(after) <= set("0123456789 -"))):
            out[i] = "--bench="
    return out


@dataclass(frozen=True)
class BenchKey:
    """The key of a bench's meter, as its vendor holds it (never shown)."""

    key: bytes = field(repr=False)
    ea: str
    base_date: int
    kt: int
    sgc: str | None
    pan: str


def bench_key(args: argparse.Namespace) -> BenchKey | None:
    """The key of the meter on `--bench` (None without it); a UsageError if other key
    options come with it (they would contradict the bench file)."""
    ref = getattr(args, "bench", None)
    if ref is None:
        return None
    given = [f"--{name.replace('_', '-')}" for name in KEY_OPTIONS
             if name != "bench" and getattr(args, name, None) is not None]
    if given:
        raise UsageError(f"{PROG}: --bench takes the key from the bench file; it cannot go "
                         f"with {', '.join(given)}")
    from rig.bench.config import load_bench
    from rig.commands.input_files import check_input_file
    from rig.meter.vendor import BenchVendor

    check_input_file(ref or None, "--bench")  # a FIFO or /dev/zero: InputFileError (2)
    vendor = BenchVendor.for_bench(load_bench(ref or None))  # ConfigError, VendingKeyError
    return BenchKey(bytes(vendor.decoder_key), vendor.ea, vendor.base_date, vendor.kt,
                    vendor.sgc, str(vendor.pan))


def _derive(args: argparse.Namespace, base_date: int) -> bytes:
    missing = [f"--{name.replace('_', '-')}" for name in KEYGEN_OPTIONS
               if getattr(args, name, None) is None]
    if missing:
        raise UsageError(f"{PROG}: deriving the decoder key needs {', '.join(missing)}")
    return sts.derive_decoder_key(
        dkga=args.dkga, vending_key=key_bytes(args.vending_key, "--vending-key"), pan=args.pan,
        sgc=args.sgc, ti=args.ti, krn=args.krn, kt=args.kt,
        base_date=base_date, ea=args.ea or "07",
    )


def _decoder_key(args: argparse.Namespace, base_date: int, *,
                 required: bool) -> tuple[bytes | None, str | None]:
    """(key, EA) from --decoder-key/--ea or from the keygen options."""
    text = getattr(args, "decoder_key", None)
    if text is not None:
        key = key_bytes(text, "--decoder-key", args.ea)
        if args.ea is None and len(key) not in (8, 16):
            raise UsageError(f"{PROG}: --decoder-key must be 16 hex digits (EA07) or 32 "
                             f"(EA11), got {len(key) * 2}")
        return key, args.ea or ("11" if len(key) == 16 else "07")
    if getattr(args, "vending_key", None) is not None:
        return _derive(args, base_date), args.ea or "07"
    if required:
        raise UsageError(f"{PROG}: give the key: --decoder-key HEX [--ea 07|09|11], or "
                         "--dkga --vending-key --pan --sgc --ti --krn --kt")
    return None, None


# --- output ---------------------------------------------------------------------------------


def _json_value(value: Any) -> Any:
    if isinstance(value, Decimal):
        return int(value) if value == value.to_integral_value() else float(value)
    return value


def describe(token: sts.Token | sts.DecodedToken, base_date: int) -> dict[str, Any]:
    """The JSON-safe description of a vended or decoded token."""
    decrypted = getattr(token, "decrypted", True)
    crc_ok = getattr(token, "crc_ok", True)
    data: dict[str, Any] = {
        "token": token.digits,
        "class": token.cls,
        "class_name": CLASS_NAMES[token.cls],
        "subclass": token.subclass,
        "subclass_name": None if token.subclass is None else subclass_name(token.cls,
                                                                           token.subclass),
        "kind": token.kind,
        "crc_ok": bool(crc_ok) if decrypted else False,
        "decrypted": decrypted,
        "block": f"{token.block:016x}",
    }
    for name, value in token.fields.items():
        data[name] = _json_value(value)
    tid = token.tid
    if tid is not None:
        data["tid_date"] = f"{datetime_from_tid(tid, base_date):%Y-%m-%d %H:%M}"
        data["base_date"] = base_date
    return data


def _text_lines(info: dict[str, Any]) -> list[str]:
    digits = info["token"]
    lines = [
        f"token       {' '.join(digits[i:i + 4] for i in range(0, 20, 4))}",
        f"class       {info['class']} ({info['class_name']})",
    ]
    if not info["decrypted"]:
        lines.append("subclass    unknown: encrypted (give --decoder-key and --ea to decode)")
        lines.append(f"block       {info['block']} (encrypted)")
        return lines
    lines += [
        f"subclass    {info['subclass']} ({info['subclass_name']})",
        f"kind        {info['kind']}",
        f"crc         {'OK' if info['crc_ok'] else 'FAILED (wrong key or a typing error)'}",
        f"block       {info['block']}",
    ]
    skip = {"token", "class", "class_name", "subclass", "subclass_name", "kind", "crc_ok",
            "decrypted", "block", "tid_date", "base_date", "unit", "amount_field"}
    for name, value in info.items():
        if name in skip:
            continue
        if name == "tid" and "tid_date" in info:
            text = f"{value} ({info['tid_date']}, base {info['base_date']})"
        elif name == "amount":
            text = f"{value} {info.get('unit', '')} (field 0x{info['amount_field']:04x})"
        elif name == "watts":
            text = f"{value} W"
        elif name == "control":
            width = 36 if info.get("mfr_digits") == 2 else 28
            text = f"0x{value:x} (bits {_bits(value, width)})"
        elif name == "register" and value == 0xFFFF:
            text = "65535 (all registers)"
        else:
            text = str(value)
        lines.append(f"{name:<11} {text}")
    return lines


def _bits(value: int, width: int) -> str:
    if value == (1 << width) - 1:
        return "all set: test 0, every test"
    bits = [str(n) for n in range(value.bit_length()) if value >> n & 1]
    return ", ".join(bits) if bits else "none"


# --- commands -------------------------------------------------------------------------------


def _keygen(args: argparse.Namespace) -> int:
    print(_derive(args, args.base_date or base_date_in_force(utc_now())).hex())
    return 0


def _check_used(args: argparse.Namespace) -> None:
    """Options given before KIND that this kind of token does not carry are an error."""
    given = [f"--{name.replace('_', '-')}" for name in UNUSED.get(args.kind, ())
             if getattr(args, name, None) is not None]
    if given:
        raise UsageError(f"{PROG}: a {args.kind} token does not use {', '.join(given)}")


def _vend(args: argparse.Namespace) -> int:
    _check_used(args)
    if args.tid is not None and args.at is not None:
        raise UsageError(f"{PROG}: give --tid or --at, not both")
    base_date = args.base_date or base_date_in_force(args.at or utc_now())
    if args.kind == "test":
        tokens = [sts.test_token(args.control, mfr_code=args.mfr_code,
                                 mfr_digits=args.mfr_digits)]
    elif (bench := bench_key(args)) is not None:
        base_date = bench.base_date  # the meter's key was derived for its base date
        vendor = sts.Vendor(bench.key, bench.ea, base_date, bench.kt, sgc=bench.sgc)
        tokens = _vend_kind(vendor, args)
    else:
        key, ea = _decoder_key(args, base_date, required=True)
        assert key is not None and ea is not None
        vendor = sts.Vendor(key, ea, base_date, args.kt if args.kt is not None else 2,
                            sgc=args.sgc)
        tokens = _vend_kind(vendor, args)
    if args.json:
        print(json.dumps({"tokens": [t.digits for t in tokens],
                          "decoded": [describe(t, base_date) for t in tokens]}))
    else:
        for token in tokens:
            print(token.digits)
    return 0


def _vend_kind(vendor: sts.Vendor, args: argparse.Namespace) -> list[sts.Token]:
    when = {"at": args.at, "tid": args.tid}
    timed = {**when, "rnd": args.rnd}
    kind = args.kind
    if kind == "credit":
        return [vendor.credit(args.subclass, args.amount, **timed)]
    if kind == "currency":
        return [vendor.currency(args.subclass, args.amount, **when)]
    if kind == "power-limit":
        return [vendor.power_limit(args.watts, **timed)]
    if kind == "clear-credit":
        return [vendor.clear_credit(args.register, **timed)]
    if kind == "tariff-rate":
        return [vendor.tariff_rate(args.value, **timed)]
    if kind == "clear-tamper":
        return [vendor.clear_tamper(**timed)]
    if kind == "phase-unbalance":
        return [vendor.phase_unbalance(args.watts, **timed)]
    if kind == "water-factor":
        return [vendor.water_factor(args.value, **timed)]
    # key-change
    new_ea = args.new_ea
    new_key = key_bytes(args.new_decoder_key, "--new-decoder-key", new_ea)
    return vendor.key_change(new_key, new_kt=args.new_kt, new_krn=args.new_krn,
                             new_ti=args.new_ti, new_ken=args.new_ken, new_sgc=args.new_sgc,
                             rollover=args.rollover, new_ea=new_ea)


def _decode(args: argparse.Namespace) -> int:
    base_date = args.base_date or 1993
    bench = bench_key(args)
    if bench is not None:
        base_date, key, ea = bench.base_date, bench.key, bench.ea
    else:
        key, ea = _decoder_key(args, base_date, required=False)
    decoded = sts.decode(args.token, key, ea)
    info = describe(decoded, base_date)
    if args.json:
        print(json.dumps(info))
    else:
        print("\n".join(_text_lines(info)))
    return 1 if decoded.decrypted and not decoded.crc_ok else 0


def main(argv: list[str] | None = None) -> int:
    """Run `rig sts ...`; returns the exit status."""
    parser = build_parser()
    try:
        args, extra = parser.parse_known_args(bench_argv(sys.argv[1:] if argv is None
                                                         else argv))
        if extra:
            raise UsageError(f"{PROG}: {unrecognized(extra, getattr(args, 'kind', None))}")
        handler = {"keygen": _keygen, "vend": _vend, "decode": _decode}[args.command]
        return handler(args)
    except UsageError as exc:
        print(str(exc), file=sys.stderr)
        return 2
    except (StsError, ValueError) as exc:
        print(f"{PROG}: {exc}", file=sys.stderr)
        return 2
    except SystemExit as exc:  # --help
        return int(exc.code or 0)
