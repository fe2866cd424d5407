"""Inference under load (issue 9 §6): the supply invariant after a seeded random workload of
model uploads, inference fees (precompile 0x…F4 and hub 0x…F5, succeeding and reverting) and
plain transfers; and SIGKILL while blocks full of inference transactions are imported never
loses an acknowledged receipt, replay matches, and the chain goes on."""
import json
from collections import Counter
import random
import threading
import time

from eth_utils import keccak
from web3 import Web3

from fastsign import sign_dynamic_fee
from models import REGISTRY, upload_model
from opgnode import BIN, CHAIN_ID, DEV_ACCOUNTS, GENESIS, VALIDATOR, NOTARY, run
from test_inference import FIXTURES, HUB, PRECOMPILE, fixture, hub, model_input, precompile

SUPPLY = Web3.to_checksum_address("0x" + "00" * 19 + "ff")
MODULES = [NOTARY, REGISTRY, PRECOMPILE, HUB, SUPPLY]


def inference_call(w3, module: str, model_id: str, name: str, input_name: str | None = None) -> bytes:
    """Calldata of one inference of fixture `name` through `module`; a wrong input name makes
    it revert with the kernel's reason after paying its gas."""
    _, real_name, array = fixture(name)
    arguments = model_input(input_name or real_name, array)
    if module == PRECOMPILE:
        data = precompile(w3).encode_abi("runModelInference", [(0, model_id, arguments)])
    else:
        data = hub(w3).encode_abi("run", [model_id, 0, arguments])
    return bytes.fromhex(data[2:])


def submit(w3, account, nonce: int, to: str, data: bytes = b"", value: int = 0, gas: int = 21_000) -> bytes:
    raw, tx_hash = sign_dynamic_fee(bytes(account.key), CHAIN_ID, nonce, to, value=value, gas=gas, data=data)
    w3.eth.send_raw_transaction(raw)
    return tx_hash


def test_supply_invariant_after_uploads_inference_fees_and_transfers(fresh_node):
    node = fresh_node.start()
    w3 = node.web3()
    rng = random.Random(9_6)
    ids = {name: upload_model(w3, DEV_ACCOUNTS[9], FIXTURES / f"{name}.onnx", name=name)["cid_v0"]
           for name in ("diabetes_gbr", "digits_logreg_zipmap")}
    strangers = [Web3.to_checksum_address(keccak(text=f"supply stranger {i}")[12:]) for i in range(8)]
    senders = DEV_ACCOUNTS[:6]
    nonces = {a.address: w3.eth.get_transaction_count(a.address, "pending") for a in senders}
    gas = {}
    hashes = []
    for wave in range(3):  # three waves, so the workload spans several blocks with fees, rewards and burns
        if wave == 1:  # a model registered mid-workload pays its storage gas too
            upload_model(w3, DEV_ACCOUNTS[8], FIXTURES / "digits_mlp.onnx", name="digits_mlp")
        for _ in range(20):
            sender = rng.choice(senders)
            kind = rng.choice(("transfer", "precompile", "hub", "revert"))
            if kind == "transfer":
                to, data, value, limit = rng.choice(strangers + [a.address for a in DEV_ACCOUNTS]), b"", rng.randint(1, 10**18), 21_000
            else:
                name = rng.choice(sorted(ids))
                to = PRECOMPILE if kind != "hub" else HUB
                data = inference_call(w3, to, ids[name], name, "not_an_input" if kind == "revert" else None)
                value = 0
                if (to, name, kind) not in gas:
                    good = inference_call(w3, to, ids[name], name)
                    gas[(to, name, kind)] = w3.eth.estimate_gas({"from": sender.address, "to": to, "data": good})
                limit = gas[(to, name, kind)]
            hashes.append((kind, submit(w3, sender, nonces[sender.address], to, data, value, limit)))
            nonces[sender.address] += 1
        for kind, h in hashes:
            w3.eth.wait_for_transaction_receipt(h, timeout=60, poll_latency=0.05)
    receipts = [(kind, w3.eth.get_transaction_receipt(h)) for kind, h in hashes]
    assert {kind for kind, r in receipts if r.status == 0} == {"revert"}
    assert all(r.status == 0 for kind, r in receipts if kind == "revert")
    assert any(kind in ("precompile", "hub") for kind, _ in receipts)

    head = w3.eth.block_number
    genesis = json.loads(GENESIS.read_text())
    accounts = set(Web3.to_checksum_address(a) for a in genesis["alloc"]) | set(strangers) | set(MODULES)
    accounts |= {a.address for a in DEV_ACCOUNTS} | {VALIDATOR.address}
    held = sum(w3.eth.get_balance(a, head) for a in sorted(accounts))
    supply = w3.eth.contract(address=SUPPLY, abi=json.loads(run([str(BIN / "opg"), "abi", "supply"], check=True).stdout))
    genesis_supply, minted, burned, staked = (getattr(supply.functions, f)().call(block_identifier=head)
                                              for f in ("genesisSupply", "minted", "burned", "staked"))
    genesis_stake = supply.functions.staked().call(block_identifier=0)
    assert genesis_supply == sum(int(v["balance"]) for v in genesis["alloc"].values()) + genesis_stake
    assert minted == head * int(genesis["blockReward"])
    assert burned > 0
    # Stake is in no balance (docs/staking.md): sum(balances) + staked == genesis + minted − burned.
    assert held + staked == genesis_supply + minted - burned == int(node.result("opg_totalSupply", [hex(head)]), 16)


class InferenceLoad(threading.Thread):
    """Keeps blocks full of inference transactions coming; remembers every receipt the node
    returned (acknowledged) before it was killed. Errors during the kill are expected."""

    def __init__(self, node, model_id: str, gas: int, seed: int):
        super().__init__(daemon=True)
        self.node, self.model_id, self.gas = node, model_id, gas
        self.rng = random.Random(seed)
        self.stop_flag = threading.Event()
        self.acknowledged: dict[bytes, dict] = {}

    def run(self):
        w3 = self.node.web3()
        data = {module: inference_call(w3, module, self.model_id, "diabetes_gbr") for module in (PRECOMPILE, HUB)}
        senders = DEV_ACCOUNTS[:6]
        try:
            nonces = {a.address: w3.eth.get_transaction_count(a.address, "pending") for a in senders}
        except Exception:
            return
        pending = []
        while not self.stop_flag.is_set():
            try:
                for sender in senders:
                    module = self.rng.choice((PRECOMPILE, HUB))
                    pending.append(submit(w3, sender, nonces[sender.address], module, data[module], gas=self.gas))
                    nonces[sender.address] += 1
                still = []
                for h in pending:
                    body = self.node.rpc("eth_getTransactionReceipt", ["0x" + h.hex()])
                    if body.get("result"):
                        self.acknowledged[h] = body["result"]
                    else:
                        still.append(h)
                pending = still
            except Exception:
                time.sleep(0.02)


def test_kill9_during_blocks_of_inferences_keeps_acknowledged_receipts(fresh_node):
    node = fresh_node.start()
    w3 = node.web3()
    model_id = upload_model(w3, DEV_ACCOUNTS[9], FIXTURES / "diabetes_gbr.onnx", name="diabetes_gbr")["cid_v0"]
    gas = 3 * w3.eth.estimate_gas({"from": DEV_ACCOUNTS[0].address, "to": HUB, "data": inference_call(w3, HUB, model_id, "diabetes_gbr")})
    rng = random.Random(9_61)
    acknowledged: dict[bytes, dict] = {}
    for round_ in range(3):
        if round_:
            node.start()
            w3 = node.web3()
            for h, receipt in acknowledged.items():
                assert node.result("eth_getTransactionReceipt", ["0x" + h.hex()]) == receipt, f"round {round_}: receipt 0x{h.hex()} changed"
        load = InferenceLoad(node, model_id, gas, seed=round_)
        load.start()
        deadline = time.time() + 30  # the stream is flowing: some receipts are back (generous on a busy machine)
        while len(load.acknowledged) < 60 and time.time() < deadline:
            time.sleep(0.05)
        time.sleep(rng.uniform(0.0, 1.0))
        node.kill9()
        load.stop_flag.set()
        load.join(timeout=10)
        assert load.acknowledged, f"round {round_}: no inference was acknowledged before the kill"
        for r in load.acknowledged.values():  # the precompile's event, and the hub's own after it
            assert r["status"] == "0x1" and len(r["logs"]) == (2 if r["to"].lower() == HUB.lower() else 1), r
        acknowledged.update(load.acknowledged)
        replay = run([str(BIN / "opgd"), "replay", "--datadir", str(node.datadir)])
        assert replay.returncode == 0, f"round {round_}: replay failed:\n{replay.stdout}\n{replay.stderr}"
        assert "replay matches" in replay.stdout + replay.stderr
    busiest = Counter(r["blockNumber"] for r in acknowledged.values()).most_common(1)[0][1]
    assert busiest >= 3, f"no block carried several inferences ({busiest} at most)"
    node.start()
    for h, receipt in acknowledged.items():
        assert node.result("eth_getTransactionReceipt", ["0x" + h.hex()]) == receipt
    head = node.web3().eth.block_number
    node.wait_block(head + 2)
