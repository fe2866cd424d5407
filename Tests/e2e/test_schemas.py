"""Every response shape is validated against the execution-apis OpenRPC schemas in
../shared/vectors/execution-apis (field names, hex rules, required fields)."""
import os
from pathlib import Path

import jsonschema
import pytest
import yaml
from eth_abi import encode
from eth_utils import keccak
from web3 import Web3

from opgnode import DEV_ACCOUNTS, NOTARY, ROOT, sign

SPEC = ROOT.parent / "shared" / "vectors" / "execution-apis" / "src"


def load_spec():
    schemas = {}
    for f in sorted((SPEC / "schemas").glob("*.yaml")):
        schemas.update(yaml.safe_load(f.read_text()))
    methods = {}
    for f in sorted((SPEC / "eth").glob("*.yaml")):
        for m in yaml.safe_load(f.read_text()):
            methods[m["name"]] = m
    return schemas, methods


SCHEMAS, METHODS = load_spec()


def check(method, result):
    schema = dict(METHODS[method]["result"]["schema"])
    schema["components"] = {"schemas": SCHEMAS}
    jsonschema.validate(result, schema, cls=jsonschema.Draft202012Validator)


@pytest.fixture(scope="module")
def activity(node, w3):
    """One transfer of each type and one Notary call with a log, all mined."""
    sender = DEV_ACCOUNTS[7]
    hashes = []
    for fields in ({"gasPrice": 5 * 10**9}, {"gasPrice": 5 * 10**9, "accessList": [], "gas": 25000}, {}):
        signed = sign(sender, w3, value=5, **fields)
        hashes.append(w3.eth.send_raw_transaction(signed.raw_transaction))
        w3.eth.wait_for_transaction_receipt(signed.hash, timeout=30, poll_latency=0.05)
    data = keccak(text="notarize(bytes32,string)")[:4] + encode(["bytes32", "string"], [os.urandom(32), "schema"])
    signed = sign(sender, w3, to=NOTARY, data=Web3.to_hex(data), gas=200_000)
    hashes.append(w3.eth.send_raw_transaction(signed.raw_transaction))
    receipt = w3.eth.wait_for_transaction_receipt(signed.hash, timeout=30, poll_latency=0.05)
    return {"hashes": [h.to_0x_hex() for h in hashes], "block": receipt.blockNumber, "blockHash": receipt.blockHash.to_0x_hex()}


def calls(a):
    addr = DEV_ACCOUNTS[7].address
    block = hex(a["block"])
    return [
        ("eth_chainId", []), ("eth_syncing", []), ("eth_blockNumber", []), ("eth_accounts", []), ("net_version", []),
        ("eth_gasPrice", []), ("eth_maxPriorityFeePerGas", []), ("eth_feeHistory", ["0x3", "latest", [25, 75]]),
        ("eth_getBalance", [addr, "latest"]), ("eth_getBalance", [addr, block]),
        ("eth_getTransactionCount", [addr, "pending"]), ("eth_getCode", [addr, "latest"]),
        ("eth_getStorageAt", [NOTARY, "0x0", "latest"]), ("eth_getProof", [addr, ["0x0"], "latest"]),
        ("eth_call", [{"to": NOTARY, "data": "0x" + keccak(text="ownerOf(bytes32)")[:4].hex() + "00" * 32}, "latest"]),
        ("eth_estimateGas", [{"from": addr, "to": addr, "value": "0x1"}]),
        ("eth_getBlockByNumber", [block, False]), ("eth_getBlockByNumber", [block, True]),
        ("eth_getBlockByNumber", ["latest", True]), ("eth_getBlockByHash", [a["blockHash"], True]),
        ("eth_getBlockTransactionCountByHash", [a["blockHash"]]), ("eth_getBlockTransactionCountByNumber", [block]),
        ("eth_getBlockReceipts", [block]),
        ("eth_getTransactionByBlockHashAndIndex", [a["blockHash"], "0x0"]),
        ("eth_getTransactionByBlockNumberAndIndex", [block, "0x0"]),
        ("eth_getLogs", [{"fromBlock": "0x0", "toBlock": "latest", "address": NOTARY}]),
        ("eth_newFilter", [{"fromBlock": block}]), ("eth_newBlockFilter", []), ("eth_newPendingTransactionFilter", []),
    ] + [(m, [h]) for h in a["hashes"] for m in ("eth_getTransactionByHash", "eth_getTransactionReceipt")]


def test_every_response_matches_its_schema(node, activity):
    checked = 0
    for method, params in calls(activity):
        body = node.rpc(method, params)
        assert "result" in body, f"{method}{params}: {body}"
        check(method, body["result"])
        checked += 1
    fid = node.result("eth_newFilter", [{"fromBlock": hex(activity["block"]), "address": NOTARY}])
    check("eth_getFilterLogs", node.result("eth_getFilterLogs", [fid]))
    check("eth_getFilterChanges", node.result("eth_getFilterChanges", [fid]))
    check("eth_uninstallFilter", node.result("eth_uninstallFilter", [fid]))
    assert checked > 30
