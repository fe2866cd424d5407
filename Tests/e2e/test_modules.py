"""Native modules as published: `opg abi` prints each module's ABI file, web3.py calls the
modules with it, and their storage reads like a contract's (docs/native-handlers.md)."""
import json

from eth_utils import keccak
from web3 import Web3

from opgnode import BIN, DEV_ACCOUNTS, NOTARY, ROOT, run, sign

OPG = str(BIN / "opg")
SUPPLY = Web3.to_checksum_address("0x" + "00" * 19 + "ff")


def test_opg_abi_lists_and_prints_every_module():
    listing = run([OPG, "abi"], check=True).stdout.split("\n")
    names = [line.split("\t")[0] for line in listing if line]
    addresses = [int(line.split("\t")[1], 16) for line in listing if line]
    files = {path.stem.lower(): path for path in (ROOT / "docs" / "abi").glob("*.json")}
    assert sorted(names) == sorted(files) and "notary" in names and "modelregistry" in names and "inferenceprecompile" in names and "inferencehub" in names
    assert addresses == sorted(addresses), "listed in address order"
    for name in names:
        printed = run([OPG, "abi", name], check=True).stdout
        assert printed == files[name].read_text()
        assert json.loads(printed)
    bad = run([OPG, "abi", "nosuch"])
    assert bad.returncode == 2 and "unknown module \"nosuch\"" in bad.stderr


def test_web3_contracts_from_the_published_abis(node, w3):
    supply = w3.eth.contract(address=SUPPLY, abi=json.loads(run([OPG, "abi", "supply"], check=True).stdout))
    block = w3.eth.block_number
    total = supply.functions.totalSupply().call(block_identifier=block)
    parts = [supply.functions.genesisSupply().call(block_identifier=block), supply.functions.minted().call(block_identifier=block),
             supply.functions.burned().call(block_identifier=block)]
    assert total == parts[0] + parts[1] - parts[2]
    # The ledger's words are plain storage slots 0, 1, 2, readable and provable like a contract's.
    words = [int.from_bytes(w3.eth.get_storage_at(SUPPLY, slot, block_identifier=block), "big") for slot in range(3)]
    assert words == parts
    proof = w3.eth.get_proof(SUPPLY, [0, 1, 2], block_identifier=block)
    assert [int.from_bytes(p.value, "big") for p in proof.storageProof] == parts

    notary = w3.eth.contract(address=NOTARY, abi=json.loads(run([OPG, "abi", "notary"], check=True).stdout))
    digest = keccak(text="module layer e2e")
    sender = DEV_ACCOUNTS[7]
    tx = notary.functions.notarize(digest, "via the published ABI").build_transaction(
        {"from": sender.address, "gas": 200_000, "maxFeePerGas": 10 * 10**9, "maxPriorityFeePerGas": 10**9,
         "nonce": w3.eth.get_transaction_count(sender.address, "pending"), "chainId": w3.eth.chain_id})
    signed = sign(sender, w3, **{k: tx[k] for k in ("to", "data", "gas", "nonce")})
    w3.eth.send_raw_transaction(signed.raw_transaction)
    receipt = w3.eth.wait_for_transaction_receipt(signed.hash, timeout=30, poll_latency=0.05)
    (event,) = notary.events.Notarized().process_receipt(receipt)
    assert event.args.owner == sender.address and event.args.note == "via the published ABI"
    owner, number = notary.functions.ownerOf(digest).call()
    assert owner == sender.address and number == receipt.blockNumber
