"""The Standard Transfer Algorithm (STA), STS encryption algorithm EA07 (IEC 62055-41 6.5.4).

A key alignment (one's complement, rotate right 12) and 16 rounds of nibble substitution,
bit permutation and a one-bit key rotation. The key bits only *select* which of two
substitution tables each nibble goes through. Bits are numbered from the LSB (7.3.3.2).

Speed matters (a vending run makes tens of thousands of tokens a second), so the round is
done with byte-wide tables: for every byte position and each of the four table selections
of its two nibbles, a 256-entry table gives the byte substituted *and* permuted into place,
so a round is eight lookups OR-ed together. The per-key round schedule is cached.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

__all__ = ["REAL", "SAMPLE", "StaTables", "sta_decrypt", "sta_encrypt"]

MASK64 = (1 << 64) - 1


@dataclass(frozen=True)
class StaTables:
    """The two substitution tables and the permutation (P[i] = destination of bit i)."""

    name: str
    s1: tuple[int, ...]
    s2: tuple[int, ...]
    p: tuple[int, ...]


# The real tables (STS Association; identical in three independent code bases, §7.1).
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


def _rotl(x: int, n: int) -> int:
    n %= 64
    return ((x << n) | (x >> (64 - n))) & MASK64


def _inverse(table: tuple[int, ...]) -> tuple[int, ...]:
    inv = [0] * len(table)
    for i, v in enumerate(table):
        inv[v] = i
    return tuple(inv)


def _sub_tables(lo: tuple[int, ...], hi: tuple[int, ...]) -> list[list[int]]:
    """sub[combo][byte]: both nibbles substituted; combo bit 0 selects the low nibble's
    table (0 -> lo, 1 -> hi), combo bit 1 the high nibble's."""
    tables = []
    for combo in range(4):
        t_low = hi if combo & 1 else lo
        t_high = hi if combo & 2 else lo
        tables.append([t_low[b & 15] | (t_high[b >> 4] << 4) for b in range(256)])
    return tables


def _perm_tables(dest: tuple[int, ...]) -> list[list[int]]:
    """perm[j][byte]: the byte at position j with each bit moved to dest[bit]."""
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
    enc: tuple[tuple[tuple[int, ...], ...], ...]  # enc[combo][j] -> table (sub then perm)
    dec: tuple[tuple[tuple[int, ...], ...], ...]  # dec[combo][j] -> table (inv sub then inv perm)
    inv_perm: tuple[tuple[int, ...], ...]  # inv_perm[j] -> table
    inv_sub: tuple[tuple[int, ...], ...]  # inv_sub[combo] -> byte table


@lru_cache(maxsize=4)
def _compile(tables: StaTables) -> _Compiled:
    sub = _sub_tables(tables.s1, tables.s2)
    perm = _perm_tables(tables.p)
    inv_sub = _sub_tables(_inverse(tables.s1), _inverse(tables.s2))
    inv_perm = _perm_tables(_inverse(tables.p))
    enc = tuple(
        tuple(tuple(perm[j][sub[c][b]] for b in range(256)) for j in range(8)) for c in range(4)
    )
    dec = tuple(
        tuple(tuple(inv_perm[j][inv_sub[c][b]] for b in range(256)) for j in range(8))
        for c in range(4)
    )
    return _Compiled(enc, dec, tuple(tuple(r) for r in inv_perm), tuple(tuple(r) for r in inv_sub))


def _combos(k: int) -> tuple[int, ...]:
    """Table selection of each byte position for round key k (bits 8j+3 and 8j+7)."""
    return tuple(((k >> (8 * j + 3)) & 1) | (((k >> (8 * j + 7)) & 1) << 1) for j in range(8))


@lru_cache(maxsize=1024)
def _schedule(key: int, tables: StaTables) -> tuple[tuple, tuple, tuple]:
    """Per-round lookup tables for one key: (encrypt rounds, decrypt rounds, final inv-sub)."""
    comp = _compile(tables)
    aligned = _rotl(~key & MASK64, 64 - 12)  # one's complement, rotate right 12
    combos = [_combos(_rotl(aligned, r)) for r in range(16)]
    enc = tuple(tuple(comp.enc[c[j]][j] for j in range(8)) for c in combos)
    # decryption runs rounds 15..0: inverse permutation, then inverse substitution with the
    # round's selection. Rounds 15..1 fuse "inv sub of round r" with "inv perm of round r-1".
    dec = tuple(tuple(comp.dec[combos[r][j]][j] for j in range(8)) for r in range(15, 0, -1))
    last = tuple(comp.inv_sub[combos[0][j]] for j in range(8))
    return enc, dec, last


def _key_int(key: bytes | int) -> int:
    if isinstance(key, int):
        if not 0 <= key <= MASK64:
            raise ValueError("an STA key is a 64-bit value")
        return key
    if len(key) != 8:
        raise ValueError(f"an STA (EA07) key is 8 bytes, got {len(key)}")
    return int.from_bytes(key, "big")


def sta_encrypt(key: bytes | int, block: int, tables: StaTables = REAL) -> int:
    """Encipher a 64-bit block with a 64-bit decoder key (EA07)."""
    rounds = _schedule(_key_int(key), tables)[0]
    x = block
    for t0, t1, t2, t3, t4, t5, t6, t7 in rounds:
        x = (t0[x & 255] | t1[(x >> 8) & 255] | t2[(x >> 16) & 255] | t3[(x >> 24) & 255]
             | t4[(x >> 32) & 255] | t5[(x >> 40) & 255] | t6[(x >> 48) & 255] | t7[x >> 56])
    return x


def sta_decrypt(key: bytes | int, block: int, tables: StaTables = REAL) -> int:
    """Decipher a 64-bit block with a 64-bit decoder key (EA07)."""
    _, rounds, last = _schedule(_key_int(key), tables)
    p = _compile(tables).inv_perm
    x = block
    x = (p[0][x & 255] | p[1][(x >> 8) & 255] | p[2][(x >> 16) & 255] | p[3][(x >> 24) & 255]
         | p[4][(x >> 32) & 255] | p[5][(x >> 40) & 255] | p[6][(x >> 48) & 255] | p[7][x >> 56])
    for t0, t1, t2, t3, t4, t5, t6, t7 in rounds:
        x = (t0[x & 255] | t1[(x >> 8) & 255] | t2[(x >> 16) & 255] | t3[(x >> 24) & 255]
             | t4[(x >> 32) & 255] | t5[(x >> 40) & 255] | t6[(x >> 48) & 255] | t7[x >> 56])
    out = 0
    for j in range(8):
        out |= last[j][(x >> (8 * j)) & 255] << (8 * j)
    return out
