"""The Standard Transfer Algorithm (STA), STS encryption algorithm EA07 (IEC 62055-41 6.5.4).

A key alignment (one's complement, rotate right 12) and 16 rounds of nibble substitution,
bit permutation and a one-bit left rotation of the key. The key bits only *select* which of
two substitution tables each nibble goes through: the table of nibble n in a round is S2
when bit 4n+3 of the round key is 1, else S1. Bits are numbered from the LSB (7.3.3.2).

Speed matters (the rig vends and decodes tens of thousands of tokens a second), so a round
is done with byte-wide tables: for each of the 8 byte positions and each of the 4 table
selections of its two nibbles, a 256-entry table gives that byte substituted *and* permuted
into place. A round is then 8 lookups OR-ed together. The 16 per-round selections of a key
are turned into lists of those tables once per key and cached.

Decryption undoes a round as inverse permutation, then inverse substitution. A byte table
can only do "local, then global", so decryption runs an inverse permutation alone, then 15
fused steps (inverse substitution of round r, inverse permutation of round r-1), then the
inverse substitution of round 0 alone: 17 steps of the same shape as encryption's 16.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

__all__ = ["REAL", "SAMPLE", "StaTables", "sta_decrypt", "sta_encrypt"]

MASK64 = (1 << 64) - 1

_Table = list[int]  # 256 entries, 64-bit values
_Step = tuple[_Table, _Table, _Table, _Table, _Table, _Table, _Table, _Table]


@dataclass(frozen=True, eq=False)  # eq=False: hashed by identity, cheap as a cache key
class StaTables:
    """The two substitution tables and the permutation (p[i] = destination of bit i)."""

    name: str
    s1: tuple[int, ...]
    s2: tuple[int, ...]
    p: tuple[int, ...]

    def __post_init__(self) -> None:
        for label, table, size in (("s1", self.s1, 16), ("s2", self.s2, 16), ("p", self.p, 64)):
            if sorted(table) != list(range(size)):
                raise ValueError(f"STA table {self.name}.{label} is not a permutation of "
                                 f"0..{size - 1}")


# The real tables (STS Association; identical in three independent code bases, NOTES §7.1).
REAL = StaTables(
    "real",
    (14, 10, 7, 9, 12, 3, 2, 5, 13, 0, 15, 1, 4, 8, 6, 11),
    (12, 8, 2, 13, 7, 6, 1, 3, 11, 5, 9, 15, 0, 4, 10, 14),
    (55, 42, 10, 18, 24, 21, 44, 35, 2, 22, 56, 43, 27, 58, 9, 50,
     6, 36, 12, 61, 37, 38, 53, 16, 62, 3, 7, 4, 32, 20, 63, 25,
     51, 52, 54, 33, 49, 19, 46, 29, 48, 31, 23, 30, 41, 28, 13, 5,
     40, 60, 39, 11, 15, 17, 1, 0, 57, 34, 59, 8, 47, 14, 45, 26),
)

# The sample tables printed in IEC 62055-41 for its worked example; not for real meters.
SAMPLE = StaTables(
    "sample",
    (12, 10, 8, 4, 3, 15, 0, 2, 14, 1, 5, 13, 6, 9, 7, 11),
    (6, 9, 7, 4, 3, 10, 12, 14, 2, 13, 1, 15, 0, 11, 8, 5),
    (29, 27, 34, 9, 16, 62, 55, 2, 40, 49, 38, 25, 33, 61, 30, 23, 1, 41, 21, 57, 42, 15,
     5, 58, 19, 53, 22, 17, 48, 28, 24, 39, 3, 60, 36, 14, 11, 52, 54, 12, 31, 51, 10, 26,
     0, 45, 37, 43, 44, 6, 59, 4, 7, 35, 56, 50, 13, 18, 32, 47, 46, 63, 20, 8),
)

_BY_NAME = {"real": REAL, "sample": SAMPLE}


def _rotl(x: int, n: int) -> int:
    n %= 64
    return ((x << n) | (x >> (64 - n))) & MASK64


def _inverse(table: tuple[int, ...]) -> tuple[int, ...]:
    inv = [0] * len(table)
    for i, v in enumerate(table):
        inv[v] = i
    return tuple(inv)


def _sub_bytes(lo: tuple[int, ...], hi: tuple[int, ...]) -> list[list[int]]:
    """sub[combo][byte]: both nibbles of a byte substituted. Bit 0 of `combo` picks the low
    nibble's table (0 -> lo, 1 -> hi), bit 1 the high nibble's."""
    out = []
    for combo in range(4):
        t_low = hi if combo & 1 else lo
        t_high = hi if combo & 2 else lo
        out.append([t_low[b & 15] | (t_high[b >> 4] << 4) for b in range(256)])
    return out


def _perm_bytes(dest: tuple[int, ...]) -> list[list[int]]:
    """perm[j][byte]: the byte found at byte position j, each bit moved to dest[bit]."""
    out = []
    for j in range(8):
        row = []
        for b in range(256):
            v = 0
            for k in range(8):
                if b >> k & 1:
                    v |= 1 << dest[8 * j + k]
            row.append(v)
        out.append(row)
    return out


@dataclass(frozen=True)
class _Compiled:
    """Byte tables of one table set, indexed [combo][byte position][byte value]."""

    enc: list[list[_Table]]  # substitute, then permute
    dec: list[list[_Table]]  # inverse-substitute, then inverse-permute
    inv_perm: list[_Table]  # [byte position][byte value]
    inv_sub: list[list[_Table]]  # inverse-substitute only, result shifted into place


@lru_cache(maxsize=4)
def _compile(tables: StaTables) -> _Compiled:
    sub = _sub_bytes(tables.s1, tables.s2)
    inv_sub = _sub_bytes(_inverse(tables.s1), _inverse(tables.s2))
    perm = _perm_bytes(tables.p)
    inv_perm = _perm_bytes(_inverse(tables.p))
    enc = [[[perm[j][sub[c][b]] for b in range(256)] for j in range(8)] for c in range(4)]
    dec = [[[inv_perm[j][inv_sub[c][b]] for b in range(256)] for j in range(8)]
           for c in range(4)]
    placed = [[[inv_sub[c][b] << (8 * j) for b in range(256)] for j in range(8)]
              for c in range(4)]
    return _Compiled(enc, dec, inv_perm, placed)


def _selections(k: int) -> list[int]:
    """Table selection (combo) of each byte position for round key k: bits 8j+3, 8j+7."""
    return [((k >> (8 * j + 3)) & 1) | (((k >> (8 * j + 7)) & 1) << 1) for j in range(8)]


def _key_int(key: bytes | int) -> int:
    if isinstance(key, int) and not isinstance(key, bool):
        if not 0 <= key <= MASK64:
            raise ValueError("an STA (EA07) key is a 64-bit value")
        return key
    if not isinstance(key, (bytes, bytearray)):
        raise TypeError(f"an STA (EA07) key is 8 bytes or an int, got {type(key).__name__}")
    if len(key) != 8:
        raise ValueError(f"an STA (EA07) key is 8 bytes, got {len(key)}")
    return int.from_bytes(key, "big")


@lru_cache(maxsize=1024)
def _schedule(key: bytes | int, tables: StaTables) -> tuple[tuple[_Step, ...], tuple[_Step, ...]]:
    """The per-step lookup tables of one key: (16 encrypt steps, 17 decrypt steps)."""
    comp = _compile(tables)
    aligned = _rotl(~_key_int(key) & MASK64, 64 - 12)  # one's complement, rotate right 12
    sel = [_selections(_rotl(aligned, r)) for r in range(16)]
    enc = tuple(tuple(comp.enc[sel[r][j]][j] for j in range(8)) for r in range(16))
    dec = [tuple(comp.inv_perm)]
    dec += [tuple(comp.dec[sel[r][j]][j] for j in range(8)) for r in range(15, 0, -1)]
    dec.append(tuple(comp.inv_sub[sel[0][j]][j] for j in range(8)))
    return enc, tuple(dec)  # type: ignore[return-value]


def _tables(tables: StaTables | str) -> StaTables:
    if isinstance(tables, StaTables):
        return tables
    try:
        return _BY_NAME[str(tables).lower()]
    except KeyError:
        raise ValueError(f"unknown STA table set {tables!r}: use 'real' or 'sample'") from None


def _run(steps: tuple[_Step, ...], x: int) -> int:
    if not 0 <= x <= MASK64:
        raise ValueError(f"an STA data block is a 64-bit unsigned value, got {x:#x}")
    for t0, t1, t2, t3, t4, t5, t6, t7 in steps:
        b0, b1, b2, b3, b4, b5, b6, b7 = x.to_bytes(8, "little")
        x = t0[b0] | t1[b1] | t2[b2] | t3[b3] | t4[b4] | t5[b5] | t6[b6] | t7[b7]
    return x


def sta_encrypt(key: bytes | int, block: int, tables: StaTables | str = REAL) -> int:
    """Encipher a 64-bit block with a 64-bit decoder key (EA07).

    `tables` is REAL (the default, what meters use) or SAMPLE (the standard's worked example
    only); the names "real" / "sample" are accepted too.
    """
    if tables is not REAL:
        tables = _tables(tables)
    if type(key) is bytearray:
        key = bytes(key)  # the schedule cache needs a hashable key
    return _run(_schedule(key, tables)[0], block)


def sta_decrypt(key: bytes | int, block: int, tables: StaTables | str = REAL) -> int:
    """Decipher a 64-bit block with a 64-bit decoder key (EA07); inverse of `sta_encrypt`."""
    if tables is not REAL:
        tables = _tables(tables)
    if type(key) is bytearray:
        key = bytes(key)
    return _run(_schedule(key, tables)[1], block)
