#!/usr/bin/env python3
"""Writes the seed corpora of Fuzz/FuzzJSON, FuzzJSONRPC, FuzzTransaction, FuzzChainData and
FuzzRLP (FuzzONNX's: tools/onnx/make_fuzz_corpus.py). Seeds are real data so the fuzzer starts deep:

- FuzzJSON: every request and response (up to 16 KiB) in the execution-apis RPC
  fixtures (../shared/vectors/execution-apis/tests, CC0), plus escapes, numbers and nesting.
- FuzzJSONRPC: every execution-apis fixture request, and requests that name the accounts,
  transaction and blocks of the chain FuzzJSONRPC.swift builds (same keys, same signed
  notarization: RFC 6979 signatures are deterministic), batches, notifications and filters.
- FuzzTransaction: transactions of every type signed here with eth-account (legacy with and
  without EIP-155, EIP-2930, EIP-1559, creation, access lists, large data) and the
  execution-apis eth_sendRawTransaction ones.
- FuzzChainData (first byte picks the decoder: 0 header, 1 receipt, 2 account, 3 stored
  receipt): the headers (London fields) of the execution-apis test chain's blocks, its
  receipts in consensus and stored form, and its accounts from eth_getProof leaves.
- FuzzRLP: the legacy transactions, headers, stored receipts and accounts above (real RLP
  lists), and items around every length boundary (55/56 bytes, 1- and 2-byte lengths).

  make_corpus.py            # rewrites the generated seeds (gen-*) of these five targets
"""
import hashlib
import json
from pathlib import Path

import rlp
from eth_abi import encode as abi_encode
from eth_account import Account
from eth_utils import keccak, to_checksum_address

ROOT = Path(__file__).resolve().parents[2]
FIXTURES = ROOT.parent / "shared" / "vectors" / "execution-apis" / "tests"


def conversations():
    """(request text, response text) of every execution-apis fixture, in path order."""
    for path in sorted(FIXTURES.glob("*/*.io")):
        request = None
        for line in path.read_text().splitlines():
            if line.startswith(">> "):
                request = line[3:]
            elif line.startswith("<< ") and request is not None:
                yield request, line[3:]
                request = None


def write(directory: str, seeds) -> None:
    """Replaces the generated seeds (`gen-` and a SHA-256 prefix) in Fuzz/<directory>/corpus;
    hand-written seeds there stay. Seeds over 16 KiB (a blob transaction) are left out: they
    make every mutation slow and add no decoder path the smaller ones miss."""
    out = ROOT / "Fuzz" / directory / "corpus"
    out.mkdir(parents=True, exist_ok=True)
    for old in out.glob("gen-*"):
        old.unlink()
    for seed in (s for s in seeds if len(s) <= 16384):
        (out / f"gen-{hashlib.sha256(seed).hexdigest()[:16]}").write_bytes(seed)


def hexbytes(text: str) -> bytes:
    return bytes.fromhex(text[2:])


def quantity(text: str) -> int:
    return int(text, 16)


def request(method: str, *params, id=1) -> dict:
    body = {"jsonrpc": "2.0", "method": method, "params": list(params)}
    if id is not None:
        body["id"] = id
    return body


def compact(value) -> bytes:
    return json.dumps(value, separators=(",", ":")).encode()


# The chain FuzzJSONRPC.swift builds.
USER = Account.from_key(keccak(b"fuzz user"))
VALIDATOR = Account.from_key(keccak(b"fuzz validator"))
NOTARY = to_checksum_address("0x" + "00" * 19 + "01")
CHAIN_ID = 77
DIGEST = keccak(b"fuzz document")


def notarization(nonce: int, note: str):
    data = keccak(b"notarize(bytes32,string)")[:4] + abi_encode(["bytes32", "string"], [DIGEST, note])
    tx = {"type": 2, "chainId": CHAIN_ID, "nonce": nonce, "maxPriorityFeePerGas": 1, "maxFeePerGas": 10_000_000_000,
          "gas": 200_000, "to": NOTARY, "value": 0, "data": data, "accessList": []}
    return USER.sign_transaction(tx)


def json_seeds():
    seeds = []
    for req, resp in conversations():
        seeds.append(req.encode())
        seeds.append(resp.encode())
    seeds += [b'{"a":"\\u00e9\\ud83d\\ude00\\n\\t\\"\\\\\\/\\b\\f\\r\\u0000","b":[-0,1e-7,-12.5E+3,123456789012345678901234567890]}',
              b' [ true , false , null , {} , [] , "" ] ', "\"é€𝄞\"".encode(), b"[" * 40 + b"]" * 40,
              b'{"dup":1,"dup":2}', b"-1.0e308", b'"\x7f"']
    return seeds


def rpc_seeds():
    seeds = [req.encode() for req, _ in conversations()]
    first = notarization(0, "fuzz")
    second = notarization(1, "again")
    user, validator = USER.address.lower(), VALIDATOR.address.lower()
    tx_hash = "0x" + first.hash.hex().removeprefix("0x")
    # Block 1's hash as FuzzJSONRPC's chain has it (read from the target on 2026-12-01). Should
    # the chain's rules change it, these requests still parse and answer null, only less deep.
    block_hash = "0x2f475534cece17ef2967b07436181db7c88ab977dc50f73a27e61ee5948572c1"
    call = {"from": user, "to": NOTARY,
            "data": "0x" + (keccak(b"ownerOf(bytes32)")[:4] + abi_encode(["bytes32"], [DIGEST])).hex()}
    singles = [
        request("eth_blockNumber"), request("eth_chainId"), request("net_version"), request("web3_clientVersion"),
        request("web3_sha3", "0x68656c6c6f"), request("eth_gasPrice"), request("eth_maxPriorityFeePerGas"),
        request("eth_syncing"), request("eth_accounts"), request("net_listening"), request("net_peerCount"),
        request("eth_getBalance", user, "latest"), request("eth_getBalance", validator, {"blockNumber": "0x1"}),
        request("eth_getTransactionCount", user, "pending"), request("eth_getCode", NOTARY, "latest"),
        request("eth_getStorageAt", NOTARY, "0x0", "latest"), request("eth_getProof", user, ["0x0", "0x1"], "latest"),
        request("opg_totalSupply", "0x2"), request("opg_getCommit", "0x1"), request("eth_getBlockByNumber", "0x1", True),
        request("opg_getModel", "0x" + "ab" * 32), request("opg_listModels", None, "0x2"),
        request("opg_getModelBytes", "QmYwAPJzv5CZsnA625s3Xf2nemtYgPpHdWEz79ojWnPbdG", "0x0", "0x10"),
        request("opg_getInference", "0x" + "ab" * 32), request("opg_getInferencesByModel", "0x" + "ab" * 32, None, "0x2"),
        request("opg_inferenceStats", "0x0", "0x2"), request("opg_verificationStats", "0x0", "0x2"),
        request("opg_getOperator", user), request("opg_listOperators", {"role": "provider", "model": "QmA", "limit": "0x2"}),
        request("opg_getValidators", "latest"),
        request("opg_getTransactionsByAddress", user, None, "0x2"), request("opg_decodeTransaction", tx_hash),
        request("eth_getBlockByNumber", "latest", False), request("eth_getBlockByNumber", "earliest", True),
        request("eth_getBlockTransactionCountByNumber", "0x1"), request("eth_getBlockByHash", block_hash, True),
        request("eth_getBlockTransactionCountByHash", block_hash), request("eth_getBlockReceipts", block_hash),
        request("eth_getTransactionByBlockHashAndIndex", block_hash, "0x0"),
        request("eth_getBalance", user, {"blockHash": block_hash, "requireCanonical": True}), request("eth_getBlockReceipts", "0x1"),
        request("eth_getTransactionByHash", tx_hash), request("eth_getTransactionReceipt", tx_hash),
        request("eth_getTransactionByBlockNumberAndIndex", "0x1", "0x0"),
        request("eth_getLogs", {"fromBlock": "0x0", "toBlock": "latest", "address": NOTARY}),
        request("eth_getLogs", {"fromBlock": "0x1", "topics": [None, None, "0x" + DIGEST.hex()]}),
        request("eth_call", call, "latest"), request("eth_estimateGas", {"from": user, "to": validator, "value": "0x1"}),
        request("eth_feeHistory", "0x2", "latest", [10, 90]),
        request("eth_sendRawTransaction", "0x" + second.raw_transaction.hex().removeprefix("0x")),
        request("eth_sendRawTransaction", "0x" + first.raw_transaction.hex().removeprefix("0x")),
        request("eth_newFilter", {"fromBlock": "0x0", "address": [NOTARY]}), request("eth_newBlockFilter"),
        request("eth_newPendingTransactionFilter"), request("eth_getFilterChanges", "0x1"),
        request("eth_uninstallFilter", "0x1"), request("txpool_status"),
        request("eth_getBlockByNumber", "0x1", False, id="a string id"), request("eth_blockNumber", id=None),
        request("no_such_method"), {"jsonrpc": "2.0", "id": 7, "method": "eth_chainId", "params": {}},
    ]
    seeds += [compact(s) for s in singles]
    seeds.append(compact([request("eth_blockNumber", id=i) for i in range(3)] + [request("eth_chainId", id=None)]))
    seeds.append(compact([request("eth_getTransactionReceipt", tx_hash), 1, {"jsonrpc": "1.0"}, request("eth_getBalance", user)]))
    seeds += [b"[]", b"{}", b"[{}]", b'{"jsonrpc":"2.0","id":{},"method":"eth_chainId"}', b"not json"]
    return seeds


def transaction_seeds():
    key = keccak(b"fuzz transactions")
    to = to_checksum_address(keccak(b"recipient")[:20])
    access = [{"address": NOTARY, "storageKeys": ["0x" + "00" * 31 + "01", "0x" + "ab" * 32]}, {"address": to, "storageKeys": []}]
    txs = [
        {"nonce": 0, "gasPrice": 1, "gas": 21_000, "to": to, "value": 1, "data": b""},  # pre-EIP-155
        {"chainId": CHAIN_ID, "nonce": 1, "gasPrice": 2_000_000_000, "gas": 90_000, "to": to, "value": 10**18, "data": b"\x01\x02"},
        {"chainId": 1, "nonce": 2**64 - 2, "gasPrice": 1, "gas": 21_000, "to": to, "value": 0, "data": b""},
        {"type": 1, "chainId": CHAIN_ID, "nonce": 3, "gasPrice": 7, "gas": 60_000, "to": to, "value": 5, "data": b"\xff" * 40,
         "accessList": access},
        {"type": 2, "chainId": CHAIN_ID, "nonce": 4, "maxPriorityFeePerGas": 2, "maxFeePerGas": 30, "gas": 100_000, "to": to,
         "value": 0, "data": b"", "accessList": access},
        {"type": 2, "chainId": CHAIN_ID, "nonce": 5, "maxPriorityFeePerGas": 0, "maxFeePerGas": 1, "gas": 3_000_000, "to": "",
         "value": 0, "data": bytes(range(256)) * 8, "accessList": []},  # creation, 2 KiB of code
        {"type": 1, "chainId": CHAIN_ID, "nonce": 6, "gasPrice": 1, "gas": 53_000, "to": "", "value": 0, "data": b"\x60\x00",
         "accessList": []},
    ]
    seeds = [bytes(Account.sign_transaction(tx, key).raw_transaction) for tx in txs]
    seeds.append(bytes(notarization(0, "fuzz").raw_transaction))
    for req, _ in conversations():
        body = json.loads(req)
        if body["method"] == "eth_sendRawTransaction":
            seeds.append(hexbytes(body["params"][0]))
    return seeds


def header_rlp(block: dict) -> bytes:
    """opg's header (docs/chain.md) of an eth_getBlockBy* result: the 16 London fields, then
    validatorsHash and nextValidatorsHash (zero hashes for the fixtures' Ethereum blocks)."""
    fields = [hexbytes(block["parentHash"]), hexbytes(block["sha3Uncles"]), hexbytes(block["miner"]),
              hexbytes(block["stateRoot"]), hexbytes(block["transactionsRoot"]), hexbytes(block["receiptsRoot"]),
              hexbytes(block["logsBloom"]), quantity(block["difficulty"]), quantity(block["number"]),
              quantity(block["gasLimit"]), quantity(block["gasUsed"]), quantity(block["timestamp"]),
              hexbytes(block["extraData"]), hexbytes(block["mixHash"]), hexbytes(block["nonce"]),
              quantity(block["baseFeePerGas"]),
              hexbytes(block.get("validatorsHash", "0x" + "00" * 32)), hexbytes(block.get("nextValidatorsHash", "0x" + "00" * 32))]
    return rlp.encode(fields)


def receipt_encodings(receipt: dict):
    """The consensus and the stored encoding (opg's: type, status, gas, logs) of a receipt."""
    logs = [[hexbytes(log["address"]), [hexbytes(t) for t in log["topics"]], hexbytes(log["data"])] for log in receipt["logs"]]
    kind, status, gas = quantity(receipt["type"]), quantity(receipt["status"]), quantity(receipt["cumulativeGasUsed"])
    body = rlp.encode([status, gas, hexbytes(receipt["logsBloom"]), logs])
    return (bytes([kind]) + body if kind else body), rlp.encode([kind, status, gas, logs])


def chain_data_seeds():
    headers, receipts, stored, accounts = set(), set(), set(), set()
    for _, resp in conversations():
        result = json.loads(resp).get("result")
        candidates = result if isinstance(result, list) else [result]
        for item in candidates:
            if not isinstance(item, dict):
                continue
            if "stateRoot" in item and "baseFeePerGas" in item:
                headers.add(header_rlp(item))
            if "status" in item and quantity(item["type"]) <= 2:
                consensus, ours = receipt_encodings(item)
                receipts.add(consensus)
                stored.add(ours)
            if "accountProof" in item and item["accountProof"]:
                leaf = rlp.decode(hexbytes(item["accountProof"][-1]))
                if len(leaf) == 2:
                    accounts.add(leaf[1])
    empty_root, empty_code = keccak(rlp.encode(b"")), keccak(b"")
    accounts |= {rlp.encode([0, 0, empty_root, empty_code]), rlp.encode([2**64 - 1, 2**256 - 1, keccak(b"root"), keccak(b"code")])}
    by_size = lambda s: sorted(s, key=lambda b: (len(b), b))
    # A handful of each: the smallest and the largest carry the shapes that matter.
    pick = lambda s: (by_size(s)[:4] + by_size(s)[-2:]) if len(s) > 6 else by_size(s)
    return ([b"\x00" + h for h in pick(headers)] + [b"\x01" + r for r in pick(receipts)]
            + [b"\x02" + a for a in pick(accounts)] + [b"\x03" + s for s in pick(stored)])


def rlp_seeds(transactions, chain_data):
    lists = [t for t in transactions if t[0] >= 0xC0] + [d[1:] for d in chain_data if d[0] != 1]
    edges = [b"\x00", b"\x7f", b"\x80", b"a" * 55, b"a" * 56, b"a" * 255, b"a" * 256]
    items = [rlp.encode(e) for e in edges] + [rlp.encode([[], [[]], [[], [[]]]]), rlp.encode([b"a" * 54]),
                                              rlp.encode([b"a" * 55]), rlp.encode([[b"x"] * 30] * 3)]
    return lists + items


def main() -> None:
    transactions, chain_data = transaction_seeds(), chain_data_seeds()
    write("FuzzJSON", json_seeds())
    write("FuzzJSONRPC", rpc_seeds())
    write("FuzzTransaction", transactions)
    write("FuzzChainData", chain_data)
    write("FuzzRLP", rlp_seeds(transactions, chain_data))


if __name__ == "__main__":
    main()
