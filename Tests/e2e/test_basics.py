"""Node identity and chain-level reads, through web3.py as a wallet would use them."""
from opgnode import CHAIN_ID, VALIDATOR


def test_identity(node, w3):
    assert w3.eth.chain_id == CHAIN_ID
    assert node.result("net_version") == str(CHAIN_ID)
    assert node.result("net_listening") is False, "a lone validator has no P2P listener"
    assert node.result("net_peerCount") == "0x0"
    assert node.result("web3_clientVersion").startswith("opg/")
    assert node.result("eth_syncing") is False
    assert node.result("eth_accounts") == []


def test_blocks_advance_and_are_signed_by_the_validator(node, w3):
    start = w3.eth.block_number
    node.wait_block(start + 2)
    block = w3.eth.get_block("latest")
    assert block.number >= start + 2
    assert block.miner == VALIDATOR.address
    assert len(block.extraData) <= 32
    parent = w3.eth.get_block(block.number - 1)
    assert block.parentHash == parent.hash
    assert block.timestamp >= parent.timestamp
    assert w3.eth.get_block(0).number == 0
    for tag in ("earliest", "latest", "pending", "safe", "finalized"):
        assert w3.eth.get_block(tag).number >= 0


def test_fee_market_reads(node, w3):
    assert w3.eth.gas_price > 0
    assert w3.eth.max_priority_fee >= 0
    history = w3.eth.fee_history(4, "latest", [10, 50, 90])
    assert len(history.baseFeePerGas) == 5
    assert len(history.gasUsedRatio) == 4
    assert len(history.reward) == 4 and all(len(r) == 3 for r in history.reward)
    assert w3.eth.get_block("latest").baseFeePerGas > 0


def test_missing_things_are_null(node, w3):
    assert node.result("eth_getBlockByNumber", ["0xffffffff", False]) is None
    assert node.result("eth_getBlockByHash", ["0x" + "ab" * 32, False]) is None
    assert node.result("eth_getTransactionByHash", ["0x" + "ab" * 32]) is None
    assert node.result("eth_getTransactionReceipt", ["0x" + "ab" * 32]) is None
    assert node.result("eth_getCode", ["0x" + "11" * 20, "latest"]) == "0x"
