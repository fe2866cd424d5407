#!/usr/bin/env python3
"""Writes Tests/PrimitivesTests/Fixtures/abi_cases.json: random Solidity-ABI type lists
and values encoded by eth-abi, for the Swift codec's round-trip test (ABITests).

Values are written as JSON: integers as decimal strings, address/bytes as 0x-hex,
bool as true/false, string as text, arrays and tuples as lists.
Re-run after changing it: `.venv/bin/python tools/crosscheck/make_abi_fixtures.py`.
"""
import json
import random
import sys
from pathlib import Path

from eth_abi import encode

rng = random.Random(20261125)


def rand_type(depth=0):
    kinds = ["uint", "int", "address", "bool", "bytesN", "bytes", "string"]
    if depth < 2:
        kinds += ["array", "fixed", "tuple"]
    k = rng.choice(kinds)
    if k == "uint":
        return f"uint{8 * rng.randint(1, 32)}"
    if k == "int":
        return f"int{8 * rng.randint(1, 32)}"
    if k == "bytesN":
        return f"bytes{rng.randint(1, 32)}"
    if k in ("address", "bool", "bytes", "string"):
        return k
    if k == "array":
        return rand_type(depth + 1) + "[]"
    if k == "fixed":
        return rand_type(depth + 1) + f"[{rng.randint(1, 3)}]"
    return "(" + ",".join(rand_type(depth + 1) for _ in range(rng.randint(1, 3))) + ")"


def split_tuple(t):
    inner, parts, depth, cur = t[1:-1], [], 0, ""
    for ch in inner:
        if ch == "," and depth == 0:
            parts.append(cur)
            cur = ""
            continue
        depth += ch == "("
        depth -= ch == ")"
        cur += ch
    parts.append(cur)
    return parts


def rand_value(t):
    """(python value for eth-abi, JSON value for the fixture)"""
    if t.endswith("]"):
        base, _, n = t[:-1].rpartition("[")
        count = int(n) if n else rng.randint(0, 3)
        pairs = [rand_value(base) for _ in range(count)]
        return [p for p, _ in pairs], [j for _, j in pairs]
    if t.startswith("("):
        pairs = [rand_value(p) for p in split_tuple(t)]
        return tuple(p for p, _ in pairs), [j for _, j in pairs]
    if t.startswith("uint"):
        bits = int(t[4:])
        v = rng.choice([0, 1, 2 ** bits - 1, rng.getrandbits(bits)])
        return v, str(v)
    if t.startswith("int"):
        bits = int(t[3:])
        v = rng.choice([0, -1, -(2 ** (bits - 1)), 2 ** (bits - 1) - 1, rng.getrandbits(bits) - 2 ** (bits - 1)])
        return v, str(v)
    if t == "address":
        b = rng.randbytes(20)
        return "0x" + b.hex(), "0x" + b.hex()
    if t == "bool":
        v = rng.random() < 0.5
        return v, v
    if t == "bytes":
        b = rng.randbytes(rng.choice([0, 1, 31, 32, 33, 70]))
        return b, "0x" + b.hex()
    if t.startswith("bytes"):
        b = rng.randbytes(int(t[5:]))
        return b, "0x" + b.hex()
    if t == "string":
        s = rng.choice(["", "a", "hello, opg", "ünïcødé ✓", "x" * 40])
        return s, s
    raise ValueError(t)


def main():
    out = Path(sys.argv[1] if len(sys.argv) > 1 else Path(__file__).resolve().parents[2] / "Tests/PrimitivesTests/Fixtures/abi_cases.json")
    cases = []
    for _ in range(400):
        types = [rand_type() for _ in range(rng.randint(1, 4))]
        pairs = [rand_value(t) for t in types]
        data = encode(types, [p for p, _ in pairs])
        cases.append({"types": types, "values": [j for _, j in pairs], "encoded": "0x" + data.hex()})
    out.write_text(json.dumps({"generator": "eth_abi " + __import__("eth_abi").__version__, "cases": cases}, indent=0))
    print(f"wrote {len(cases)} cases to {out}")


if __name__ == "__main__":
    main()
