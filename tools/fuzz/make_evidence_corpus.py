#!/usr/bin/env python3
"""Seeds for Fuzz/FuzzEvidence: duplicate-vote evidence (docs/consensus.md, "Messages" and
"Commit certificates and evidence") signed with eth-keys by the consensus keys the target's
state bonds as validators, keccak256("fuzz evidence consensus 0") and "… 1", for chain id 1
and genesis hash 0x11…11: two genuine double signs and one of each refusal (same block,
another signer, other rounds, an unknown key, truncated). Each is written twice, after a
byte choosing the check (0: decode, 1: apply). The committed corpus also keeps the
reproducer FuzzEvidence found (same-block-two-signatures-decode).

  make_evidence_corpus.py   (writes Fuzz/FuzzEvidence/corpus/*)
"""
from pathlib import Path

from eth_keys import keys
from eth_utils import keccak

CURVE_ORDER = 0xFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFEBAAEDCE6AF48A03BBFD25E8CD0364141
GENESIS = bytes([0x11] * 32)
OUT = Path(__file__).resolve().parents[2] / "Fuzz" / "FuzzEvidence" / "corpus"


def block_field(block):
    return b"\x00" + bytes(32) if block is None else b"\x01" + block


def sign_bytes(kind, height, round_, block):
    return (b"opg-consensus-v1" + (1).to_bytes(8, "big") + GENESIS + bytes([kind]) + height.to_bytes(8, "big")
            + round_.to_bytes(4, "big") + b"\xff\xff\xff\xff" + block_field(block))


def consensus_key(i):
    return keys.PrivateKey(keccak(text=f"fuzz evidence consensus {i}"))


def vote(k, kind, height, round_, block, signer=None):
    """A vote message (kind 2 prevote, 3 precommit) by key k, signed by `signer` (default k), EIP-2 low s."""
    sig = consensus_key(k if signer is None else signer).sign_msg_hash(keccak(sign_bytes(kind, height, round_, block)))
    s, v = (sig.s, sig.v) if sig.s <= CURVE_ORDER // 2 else (CURVE_ORDER - sig.s, sig.v ^ 1)
    return (bytes([kind]) + height.to_bytes(8, "big") + round_.to_bytes(4, "big") + block_field(block)
            + consensus_key(k).public_key.to_canonical_address() + sig.r.to_bytes(32, "big") + s.to_bytes(32, "big") + bytes([v]))


def evidence(a, b):
    return len(a).to_bytes(4, "big") + a + len(b).to_bytes(4, "big") + b


def main():
    one, two = bytes([1] * 32), bytes([2] * 32)
    seeds = {
        "double-precommit": evidence(vote(0, 3, 4, 0, one), vote(0, 3, 4, 0, two)),
        "double-prevote-nil": evidence(vote(1, 2, 5, 2, None), vote(1, 2, 5, 2, one)),
        "same-block": evidence(vote(0, 3, 4, 0, one), vote(0, 3, 4, 0, one)),
        "wrong-signer": evidence(vote(1, 3, 3, 0, one), vote(1, 3, 3, 0, two, signer=0)),
        "different-rounds": evidence(vote(0, 3, 4, 0, one), vote(0, 3, 4, 1, two)),
        "unknown-key": evidence(vote(5, 3, 4, 0, one), vote(5, 3, 4, 0, two)),
        "truncated": evidence(vote(0, 3, 4, 0, one), vote(0, 3, 4, 0, two))[:200],
    }
    OUT.mkdir(parents=True, exist_ok=True)
    for name, body in seeds.items():
        (OUT / f"{name}-decode").write_bytes(b"\x00" + body)
        (OUT / f"{name}-apply").write_bytes(b"\x01" + body)


if __name__ == "__main__":
    main()
