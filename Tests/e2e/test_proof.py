"""eth_getProof (EIP-1186): the account proof verifies against the block's stateRoot."""
import rlp
from eth_utils import keccak
from web3 import Web3

from opgnode import DEV_ACCOUNTS

EMPTY_ROOT = bytes.fromhex("56e81f171bcc55a6ff8345e692c0f86e5b48e01b996cadc001622fb5e363b421")
EMPTY_CODE_HASH = keccak(b"")


def nibbles(b: bytes):
    return [n for x in b for n in (x >> 4, x & 0x0F)]


def verify(root: bytes, key: bytes, proof: list[bytes]):
    """Walks an MPT proof from the root; returns the value at key, or None if proven absent."""
    nodes = {keccak(p): p for p in proof}
    path, ref = nibbles(keccak(key)), root
    while True:
        if isinstance(ref, list):
            node = ref  # a node under 32 bytes, embedded in its parent
        else:
            assert ref in nodes, "proof is missing a node on the path"
            node = rlp.decode(nodes[ref])
        if len(node) == 17:
            if not path:
                return node[16] or None
            ref, path = node[path[0]], path[1:]
            if ref == b"":
                return None
            continue
        prefix = nibbles(node[0])
        odd, leaf = prefix[0] & 1, prefix[0] >= 2
        segment = prefix[1:] if odd else prefix[2:]
        if path[: len(segment)] != segment:
            return None
        path = path[len(segment):]
        if leaf:
            return node[1] if not path else None
        ref = node[1]


def test_account_proofs_verify_against_state_root(node, w3):
    head = w3.eth.get_block("latest")
    for address in [DEV_ACCOUNTS[0].address, DEV_ACCOUNTS[9].address, "0x" + "12" * 20]:
        proof = w3.eth.get_proof(Web3.to_checksum_address(address), [], head.number)
        value = verify(head.stateRoot, bytes.fromhex(address[2:]), [bytes(p) for p in proof.accountProof])
        if value is None:
            assert proof.balance == 0 and proof.nonce == 0
            continue
        nonce, balance, storage_root, code_hash = rlp.decode(value)
        assert int.from_bytes(balance, "big") == proof.balance == w3.eth.get_balance(address, head.number)
        assert int.from_bytes(nonce, "big") == proof.nonce
        assert storage_root == bytes(proof.storageHash) == EMPTY_ROOT
        assert code_hash == bytes(proof.codeHash) == EMPTY_CODE_HASH
