"""Restarts keep everything; SIGKILL during import under load never loses an acknowledged
block and always leaves a database whose head state matches a replay of the chain."""
import random
import threading
import time

from opgnode import BIN, DEV_ACCOUNTS, Node, run, sign


def test_restart_keeps_blocks_receipts_and_balances(fresh_node):
    node = fresh_node.start()
    w3 = node.web3()
    signed = sign(DEV_ACCOUNTS[0], w3, value=777)
    w3.eth.send_raw_transaction(signed.raw_transaction)
    receipt = w3.eth.wait_for_transaction_receipt(signed.hash, timeout=30, poll_latency=0.05)
    head = w3.eth.get_block("latest")
    balance = w3.eth.get_balance(DEV_ACCOUNTS[9].address, head.number)
    node.stop()
    assert node.proc.returncode == 0, node.log_tail()
    node.start()
    w3 = node.web3()
    assert w3.eth.block_number >= head.number
    assert w3.eth.get_block(head.number).hash == head.hash
    assert w3.eth.get_transaction_receipt(signed.hash).blockHash == receipt.blockHash
    assert w3.eth.get_balance(DEV_ACCOUNTS[9].address, head.number) == balance
    node.wait_block(head.number + 2)


class Load(threading.Thread):
    """Keeps a few senders' transactions flowing until stopped; errors during a kill are expected."""

    def __init__(self, node):
        super().__init__(daemon=True)
        self.node, self.stop_flag = node, threading.Event()

    def run(self):
        w3 = self.node.web3()
        senders = DEV_ACCOUNTS[:6]
        while not self.stop_flag.is_set():
            try:
                for s in senders:
                    w3.eth.send_raw_transaction(sign(s, w3, value=random.randint(1, 10**12)).raw_transaction)
            except Exception:
                time.sleep(0.01)


def test_kill9_during_import_never_loses_an_acknowledged_block(fresh_node):
    node = fresh_node
    acknowledged = 0
    acknowledged_hash = None
    for round_ in range(10):
        node.start()
        w3 = node.web3()
        assert w3.eth.block_number >= acknowledged, f"round {round_}: head went back below an acknowledged block"
        if acknowledged_hash is not None:
            assert w3.eth.get_block(acknowledged).hash == acknowledged_hash
        load = Load(node)
        load.start()
        time.sleep(random.uniform(0.3, 1.5))
        head = w3.eth.get_block("latest")
        acknowledged, acknowledged_hash = head.number, head.hash
        time.sleep(random.uniform(0.0, 0.3))
        node.kill9()
        load.stop_flag.set()
        load.join(timeout=5)
        replay = run([str(BIN / "opgd"), "replay", "--datadir", str(node.datadir)])
        assert replay.returncode == 0, f"round {round_}: replay failed:\n{replay.stdout}\n{replay.stderr}"
    assert acknowledged > 0
