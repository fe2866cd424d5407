"""Uploading ONNX models to the model registry (0x…F3) with web3.py, for any e2e test.

    from models import upload_model
    ids = upload_model(w3, DEV_ACCOUNTS[3], "model.onnx", name="mlp")
    ids["cid_v0"], ids["cid_v1"], ids["sha256"]

The upload follows docs/models.md: beginUpload, every missing 96 KiB chunk (several in flight),
finalizeUpload. An already registered file returns its ids without sending anything.
"""
import hashlib
import json
from pathlib import Path

from eth_account import Account
from web3 import Web3

from opgnode import CHAIN_ID, ROOT

REGISTRY = Web3.to_checksum_address("0x" + "00" * 19 + "f3")
ABI = json.loads((ROOT / "docs" / "abi" / "ModelRegistry.json").read_text())
CHUNK_BYTES = 96 * 1024


class UploadFailed(Exception):
    """A registry transaction reverted; `reason` is the revert reason."""

    def __init__(self, what: str, reason: str):
        super().__init__(f"{what}: {reason}")
        self.reason = reason


def registry(w3: Web3):
    return w3.eth.contract(address=REGISTRY, abi=ABI)


def chunks_of(data: bytes) -> list[bytes]:
    return [data[i:i + CHUNK_BYTES] for i in range(0, len(data), CHUNK_BYTES)]


def revert_reason(w3: Web3, tx: dict, block: int) -> str:
    """The reason a transaction reverted, re-run as eth_call on its parent block's state."""
    try:
        w3.eth.call({"from": tx["from"], "to": tx["to"], "data": tx["input"]}, block - 1)
    except Exception as e:  # web3 raises ContractLogicError with the reason
        return str(e.args[0] if e.args else e)
    return "reverted"


def send(w3: Web3, account, call, nonce: int, gas: int | None = None) -> bytes:
    """Signs and submits a registry call; returns the transaction hash."""
    tx = call.build_transaction({"from": account.address, "nonce": nonce, "chainId": CHAIN_ID,
                                 "maxFeePerGas": 10 * 10**9, "maxPriorityFeePerGas": 10**9,
                                 "gas": gas or 1})
    if gas is None:
        try:
            estimate = w3.eth.estimate_gas({"from": account.address, "to": REGISTRY, "data": tx["data"]})
        except Exception as e:  # a revert: web3 raises ContractLogicError with the reason
            raise UploadFailed(call.fn_name, str(e.args[0] if e.args else e)) from e
        tx["gas"] = estimate + estimate // 4 + 50_000
    return w3.eth.send_raw_transaction(account.sign_transaction(tx).raw_transaction)


def wait(w3: Web3, tx_hash: bytes, what: str):
    receipt = w3.eth.wait_for_transaction_receipt(tx_hash, timeout=60, poll_latency=0.05)
    if receipt.status != 1:
        raise UploadFailed(what, revert_reason(w3, w3.eth.get_transaction(tx_hash), receipt.blockNumber))
    return receipt


def begin_upload(w3: Web3, account, data: bytes, name: str = "", description: str = ""):
    """Sends beginUpload and waits for it."""
    sha = hashlib.sha256(data).digest()
    nonce = w3.eth.get_transaction_count(account.address, "pending")
    call = registry(w3).functions.beginUpload(sha, len(data), name, description)
    return wait(w3, send(w3, account, call, nonce), "beginUpload")


def put_chunks(w3: Web3, account, data: bytes, indices, window: int = 8):
    """Sends the chunks `indices` of `data`, `window` in flight, and waits for each."""
    sha = hashlib.sha256(data).digest()
    pieces = chunks_of(data)
    nonce = w3.eth.get_transaction_count(account.address, "pending")
    in_flight = []
    for index in indices:
        call = registry(w3).functions.putChunk(sha, index, pieces[index])
        in_flight.append((index, send(w3, account, call, nonce)))
        nonce += 1
        if len(in_flight) >= window:
            i, h = in_flight.pop(0)
            wait(w3, h, f"putChunk {i}")
    for i, h in in_flight:
        wait(w3, h, f"putChunk {i}")


def missing_chunks(w3: Web3, owner: str, data: bytes) -> list[int]:
    status = registry(w3).functions.uploadStatus(owner, hashlib.sha256(data).digest()).call()
    return list(status[4])


def model_ids(model: dict) -> dict:
    return {"cid_v0": model["cidV0"], "cid_v1": model["cidV1"], "sha256": model["sha256"]}


def upload_model(w3: Web3, account_or_key, path, name: str = "", description: str = "") -> dict:
    """Uploads the ONNX file at `path` (resuming an unfinished upload by the same account) and
    returns {"cid_v0", "cid_v1", "sha256"}. Raises UploadFailed with the revert reason when the
    registry refuses the model."""
    account = account_or_key if hasattr(account_or_key, "address") else Account.from_key(account_or_key)
    data = Path(path).read_bytes()
    sha_hex = "0x" + hashlib.sha256(data).hexdigest()
    existing = w3.provider.make_request("opg_getModel", [sha_hex])
    if "result" in existing:
        return model_ids(existing["result"])
    status = registry(w3).functions.uploadStatus(account.address, bytes.fromhex(sha_hex[2:])).call()
    if status[0] != len(data) or status[3] <= w3.eth.block_number + 1:
        begin_upload(w3, account, data, name or Path(path).name, description)
    put_chunks(w3, account, data, missing_chunks(w3, account.address, data))
    nonce = w3.eth.get_transaction_count(account.address, "pending")
    wait(w3, send(w3, account, registry(w3).functions.finalizeUpload(bytes.fromhex(sha_hex[2:])), nonce), "finalizeUpload")
    return model_ids(w3.provider.make_request("opg_getModel", [sha_hex])["result"])
