"""The staking module (0x…F6) against a real opgd (docs/staking.md): a genesis that bonds a
validator; a provider registered with web3.py, a verifier with `opg stake`, a validator
whose consensus-key proof eth-account signs; eligibility from the next epoch; the
validator set two blocks after a change, capped below a third of the power; unbond and
withdraw around the unbonding period; the RPC methods and `opg operators`; eth_getProof
over the module's storage; and `sum(balances) + staked == genesis + minted − burned`.
Slashing has no legitimate entry from outside the chain yet (the jobs module calls it),
so the unit tests cover it (Tests/ModulesTests/StakingTests.swift)."""
import json

import pytest
from eth_account import Account
from eth_account.messages import encode_defunct
from eth_keys import keys as eth_keys
from eth_utils import keccak
from web3 import Web3
from web3.exceptions import ContractLogicError

from opgnode import BIN, DEV_ACCOUNTS, GENESIS, VALIDATOR, Node, run

OPG = str(BIN / "opg")
STAKING = Web3.to_checksum_address("0x" + "00" * 19 + "f6")
SUPPLY = Web3.to_checksum_address("0x" + "00" * 19 + "ff")
MODULES = [Web3.to_checksum_address("0x" + "00" * 19 + f"{b:02x}") for b in (0x01, 0xF3, 0xF4, 0xF5, 0xF6, 0xF7, 0xFF)]
ETHER = 10**18
EPOCH_BLOCKS = 8
UNBONDING_BLOCKS = 6
# The devnet validator's public consensus key (`DevNet.consensusKey`): the node runs the engine
# as this validator and writes that key itself; any other key would have to be copied in.
GENESIS_CONSENSUS_KEY = eth_keys.PrivateKey(keccak(text="opg devnet consensus 0"))
NEW_CONSENSUS_KEY = eth_keys.PrivateKey(keccak(text="e2e new consensus key"))
PROVIDER, VERIFIER, NEW_VALIDATOR, OUTSIDER = DEV_ACCOUNTS[1], DEV_ACCOUNTS[2], DEV_ACCOUNTS[3], DEV_ACCOUNTS[4]
MODEL = "QmStakingE2EModel"


@pytest.fixture(scope="module")
def chain(tmp_path_factory):
    work = tmp_path_factory.mktemp("staking")
    genesis = json.loads(GENESIS.read_text())
    # The staking operators make the validator set (docs/chain.md, "Validators"); devnet.json's
    # entry for the same account, with another key and power, would contradict them.
    del genesis["validators"]
    genesis["staking"] = {
        "epochBlocks": EPOCH_BLOCKS, "unbondingBlocks": UNBONDING_BLOCKS,
        "operators": [{"address": VALIDATOR.address, "role": "validator", "stake": str(30_000 * ETHER),
                       "consensusKey": "0x" + GENESIS_CONSENSUS_KEY.public_key.to_compressed_bytes().hex()}],
    }
    path = work / "genesis.json"
    path.write_text(json.dumps(genesis, indent=2))
    node = Node(workdir=work / "node", extra_config={"genesis": str(path)}).init().start()
    w3 = node.web3()
    staking = w3.eth.contract(address=STAKING, abi=json.loads(run([OPG, "abi", "staking"], check=True).stdout))
    supply = w3.eth.contract(address=SUPPLY, abi=json.loads(run([OPG, "abi", "supply"], check=True).stdout))
    yield {"node": node, "w3": w3, "staking": staking, "supply": supply, "genesis": genesis, "work": work}
    node.stop()


def send(w3, account, fn, value=0, gas=None):
    tx = fn.build_transaction({"from": account.address, "value": value, "gas": gas or 2_000_000, "maxFeePerGas": 10 * 10**9,
                               "maxPriorityFeePerGas": 10**9, "nonce": w3.eth.get_transaction_count(account.address, "pending"),
                               "chainId": w3.eth.chain_id})
    signed = account.sign_transaction(tx)
    w3.eth.send_raw_transaction(signed.raw_transaction)
    return w3.eth.wait_for_transaction_receipt(signed.hash, timeout=30, poll_latency=0.05)


def revert_reason(fn, account, value=0) -> str:
    with pytest.raises(ContractLogicError) as e:
        fn.call({"from": account.address, "value": value})
    return str(e.value)


def wait_for_epoch(chain, epoch):
    chain["node"].wait_block(epoch * EPOCH_BLOCKS, timeout=60)


def proof(w3, account, key_bytes):
    digest = keccak(b"OPG-CONSENSUS-KEY-V1" + w3.eth.chain_id.to_bytes(32, "big") + bytes.fromhex(STAKING[2:])
                    + bytes.fromhex(account.address[2:]) + key_bytes)
    signed = Account.sign_message(encode_defunct(primitive=digest), account.key)
    return digest, signed.signature


def test_genesis_bonds_the_listed_validator(chain):
    node, supply = chain["node"], chain["supply"]
    assert supply.functions.staked().call(block_identifier=0) == 30_000 * ETHER
    alloc = sum(int(v["balance"]) for v in chain["genesis"]["alloc"].values())
    assert supply.functions.genesisSupply().call(block_identifier=0) == alloc + 30_000 * ETHER
    validators = node.result("opg_getValidators", ["0x0"])
    assert validators["validators"] == [{"address": VALIDATOR.address, "power": 30_000,
                                         "consensusKey": "0x" + GENESIS_CONSENSUS_KEY.public_key.to_compressed_bytes().hex()}]
    params = chain["staking"].functions.parameters().call()
    assert list(params[:6]) == [10_000 * ETHER, 5_000 * ETHER, 10_000 * ETHER, EPOCH_BLOCKS, UNBONDING_BLOCKS, 600]
    # The parameters are plain storage words, provable like a contract's.
    words = chain["w3"].eth.get_proof(STAKING, [3, 4], "latest").storageProof
    assert [int.from_bytes(p.value, "big") for p in words] == [EPOCH_BLOCKS, UNBONDING_BLOCKS]


def test_register_each_role_and_epoch_eligibility(chain):
    node, w3, staking = chain["node"], chain["w3"], chain["staking"]
    register_provider = staking.functions.registerProvider([MODEL, "QmOther"], "gpu-a100")
    assert "below the provider minimum" in revert_reason(register_provider, PROVIDER, 9_999 * ETHER)
    receipt = send(w3, PROVIDER, register_provider, 10_000 * ETHER)
    assert receipt.status == 1
    (event,) = staking.events.Registered().process_receipt(receipt)
    epoch = receipt.blockNumber // EPOCH_BLOCKS
    assert event.args.operator == PROVIDER.address and event.args.eligibleFromEpoch == epoch + 1
    assert "already registered as a provider" in revert_reason(register_provider, PROVIDER, 10_000 * ETHER)

    # The verifier through the CLI, from a keystore.
    keystore, password = chain["work"] / "keystore", chain["work"] / "password"
    password.write_text("staking e2e\n")
    key_file = chain["work"] / "verifier.key"
    key_file.write_text(VERIFIER.key.hex())
    run([OPG, "account", "import", "--keystore", str(keystore), "--password-file", str(password), str(key_file)], check=True)
    out = run([OPG, "stake", "--rpc", node.url, "--keystore", str(keystore), "--password-file", str(password), "--from",
               VERIFIER.address, "--value", "5000", "--role", "verifier", "--model", MODEL, "--hardware", "cpu"], check=True).stdout
    assert "verifier: stake 5000 OPG" in out
    bad = run([OPG, "stake", "--rpc", node.url, "--keystore", str(keystore), "--password-file", str(password), "--from",
               VERIFIER.address, "--value", "1", "--role", "verifier", "--model", MODEL, "--hardware", "cpu"])
    assert bad.returncode == 1 and "already registered as a verifier" in bad.stderr

    current = staking.functions.currentEpoch().call()
    if current == epoch:
        assert staking.functions.eligibleOperators(MODEL, 1, current).call()[0] == [], "not in the epoch it registered in"
    assert staking.functions.eligibleOperators(MODEL, 1, current + 1).call()[0] == [PROVIDER.address]
    wait_for_epoch(chain, current + 1)
    latest = staking.functions.currentEpoch().call()
    assert staking.functions.eligibleOperators(MODEL, 1, latest).call() == [[PROVIDER.address], [10_000 * ETHER]]
    assert staking.functions.eligibleOperators(MODEL, 2, latest).call()[0] == [VERIFIER.address]
    assert "is not 1 (provider) or 2 (verifier)" in revert_reason(staking.functions.eligibleOperators(MODEL, 3, latest), OUTSIDER)


def test_validator_joins_two_blocks_later_capped_below_a_third(chain):
    node, w3, staking = chain["node"], chain["w3"], chain["staking"]
    key = NEW_CONSENSUS_KEY.public_key.to_compressed_bytes()
    digest, signature = proof(w3, NEW_VALIDATOR, key)
    assert staking.functions.consensusKeyDigest(NEW_VALIDATOR.address, key).call() == digest
    _, wrong = proof(w3, OUTSIDER, key)
    assert "not the registering account" in revert_reason(staking.functions.registerValidator(key, wrong), NEW_VALIDATOR, 10_000 * ETHER)
    taken = GENESIS_CONSENSUS_KEY.public_key.to_compressed_bytes()
    assert "already registered by" in revert_reason(staking.functions.registerValidator(taken, proof(w3, NEW_VALIDATOR, taken)[1]),
                                                    NEW_VALIDATOR, 10_000 * ETHER)
    receipt = send(w3, NEW_VALIDATOR, staking.functions.registerValidator(key, signature), 10_000 * ETHER)
    assert receipt.status == 1
    h = receipt.blockNumber
    node.wait_block(h + 4)
    powers = lambda n: {v["address"]: v["power"] for v in node.result("opg_getValidators", [hex(n)])["validators"]}
    assert powers(h + 1) == {VALIDATOR.address: 30_000}
    # 30,000 of power: at most (30,000 − 1) // 3 = 9,999 may change in one height.
    assert powers(h + 2) == {VALIDATOR.address: 30_000, NEW_VALIDATOR.address: 9_999}
    assert powers(h + 3) == {VALIDATOR.address: 30_000, NEW_VALIDATOR.address: 10_000}
    assert staking.functions.validatorsAt(h + 3).call(block_identifier=h + 3)[0] == [VALIDATOR.address, NEW_VALIDATOR.address]
    info = node.result("opg_getOperator", [NEW_VALIDATOR.address])
    assert info["role"] == "validator" and info["consensusKey"] == "0x" + key.hex() and info["power"] == 10_000


def test_unbond_and_withdraw_after_the_period(chain):
    w3, staking = chain["w3"], chain["staking"]
    receipt = send(w3, PROVIDER, staking.functions.addStake(), 2_000 * ETHER)
    assert receipt.status == 1
    assert "would leave" in revert_reason(staking.functions.unbond(3_000 * ETHER), PROVIDER)
    assert "nothing to withdraw" in revert_reason(staking.functions.withdraw(), PROVIDER)
    receipt = send(w3, PROVIDER, staking.functions.unbond(2_000 * ETHER))
    (event,) = staking.events.Unbonding().process_receipt(receipt)
    assert event.args.releaseBlock == receipt.blockNumber + UNBONDING_BLOCKS
    early = send(w3, PROVIDER, staking.functions.withdraw(), gas=200_000)
    if early.blockNumber < event.args.releaseBlock:
        assert early.status == 0
    chain["node"].wait_block(event.args.releaseBlock)
    before = w3.eth.get_balance(PROVIDER.address)
    receipt = send(w3, PROVIDER, staking.functions.withdraw())
    assert receipt.status == 1
    (withdrawn,) = staking.events.Withdrawn().process_receipt(receipt)
    assert withdrawn.args.amount == 2_000 * ETHER
    fee = receipt.gasUsed * receipt.effectiveGasPrice
    assert w3.eth.get_balance(PROVIDER.address, receipt.blockNumber) == before + 2_000 * ETHER - fee
    assert "may be called only by the modules that prove faults" in revert_reason(
        staking.functions.slash(PROVIDER.address, 500, "not allowed", OUTSIDER.address), OUTSIDER)


def test_rpc_and_cli_list_operators(chain):
    node = chain["node"]
    everyone = node.result("opg_listOperators", [])
    assert [i["address"] for i in everyone["items"]] == [VALIDATOR.address, PROVIDER.address, VERIFIER.address, NEW_VALIDATOR.address]
    assert everyone["nextCursor"] is None
    first = node.result("opg_listOperators", [{"limit": "0x1"}])
    assert len(first["items"]) == 1 and first["nextCursor"] == "0x1"
    second = node.result("opg_listOperators", [{"cursor": first["nextCursor"], "limit": "0x1"}])
    assert second["items"][0]["address"] == PROVIDER.address
    by_role = node.result("opg_listOperators", [{"role": "validator"}])
    assert [i["address"] for i in by_role["items"]] == [VALIDATOR.address, NEW_VALIDATOR.address]
    by_model = node.result("opg_listOperators", [{"model": MODEL, "role": "verifier"}])
    assert [i["address"] for i in by_model["items"]] == [VERIFIER.address]
    # Operator records are plain Solidity storage: operators[address] at slot 12, role then stake.
    base = int.from_bytes(keccak(bytes(12) + bytes.fromhex(PROVIDER.address[2:]) + (12).to_bytes(32, "big")), "big")
    words = chain["w3"].eth.get_proof(STAKING, [base, base + 1], "latest").storageProof
    assert [int.from_bytes(p.value, "big") for p in words] == [1, 10_000 * ETHER]
    provider = node.result("opg_getOperator", [PROVIDER.address])
    assert provider["models"] == [MODEL, "QmOther"] and provider["hardwareClass"] == "gpu-a100"
    assert provider["stake"] == hex(10_000 * ETHER) and provider["attestations"] == 0 and provider["faults"] == 0
    for params, fragment in (([{"role": "miner"}], "role must be"), ([{"colour": 1}], "unknown filter field"), (["x"], "must be an object"),
                             ([{"cursor": "0x99"}], "past the end"), ([{"limit": "0x0"}], "limit 0 is not in 1…100")):
        body = node.rpc("opg_listOperators", params)
        assert fragment in body["error"]["message"], (params, body)
    assert "is not a registered operator" in node.rpc("opg_getOperator", [OUTSIDER.address])["error"]["message"]
    assert "past the head" in node.rpc("opg_getValidators", [hex(10**9)])["error"]["message"]
    table = run([OPG, "operators", "--rpc", node.url], check=True).stdout.splitlines()
    assert table[0].split() == ["ADDRESS", "ROLE", "STAKE", "(OPG)", "MODELS", "JAILED", "ATTESTATIONS", "FAULTS"]
    rows = {line.split()[0]: line.split() for line in table[1:]}
    assert rows[PROVIDER.address][1:] == ["provider", "10000", f"{MODEL},QmOther", "no", "0", "0"]
    assert rows[NEW_VALIDATOR.address][1:] == ["validator", "10000", "-", "no", "0", "0"]
    only = run([OPG, "operators", "--rpc", node.url, "--role", "verifier"], check=True).stdout.splitlines()
    assert len(only) == 2 and VERIFIER.address in only[1]


def test_cli_adds_unstakes_withdraws_and_registers_a_validator(chain):
    node, work = chain["node"], chain["work"]
    common = ["--rpc", node.url, "--keystore", str(work / "keystore"), "--password-file", str(work / "password")]
    out = run([OPG, "stake", *common, "--from", VERIFIER.address, "--value", "1000"], check=True).stdout
    assert "verifier: stake 6000 OPG" in out
    out = run([OPG, "unstake", *common, "--from", VERIFIER.address, "--value", "1000"], check=True).stdout
    assert "stake 5000 OPG, unbonding 1000 OPG until block" in out
    release = node.result("opg_getOperator", [VERIFIER.address])["unbondingReleaseBlock"]
    early = run([OPG, "withdraw", *common, "--from", VERIFIER.address])
    if early.returncode != 0:
        assert early.returncode == 1 and f"stake is unbonding until block {release}" in early.stderr, early.stderr
        node.wait_block(release)
        run([OPG, "withdraw", *common, "--from", VERIFIER.address], check=True)
    assert node.result("opg_getOperator", [VERIFIER.address])["unbonding"] == "0x0"
    nothing = run([OPG, "withdraw", *common, "--from", VERIFIER.address])
    assert nothing.returncode == 1 and "nothing to withdraw" in nothing.stderr

    account, consensus = DEV_ACCOUNTS[5], eth_keys.PrivateKey(keccak(text="e2e cli consensus key"))
    (work / "account5.key").write_text(account.key.hex())
    run([OPG, "account", "import", "--keystore", str(work / "keystore"), "--password-file", str(work / "password"),
         str(work / "account5.key")], check=True)
    (work / "consensus.key").write_text(consensus.to_hex())
    run([OPG, "stake", *common, "--from", account.address, "--value", "10000", "--role", "validator",
         "--consensus-key-file", str(work / "consensus.key")], check=True)
    info = node.result("opg_getOperator", [account.address])
    assert info["role"] == "validator" and info["consensusKey"] == "0x" + consensus.public_key.to_compressed_bytes().hex()
    usage = run([OPG, "stake", *common, "--from", account.address, "--value", "1", "--role", "validator", "--model", MODEL])
    assert usage.returncode == 2 and "a validator declares neither" in usage.stderr


def test_supply_invariant_with_stake(chain):
    w3, supply, genesis = chain["w3"], chain["supply"], chain["genesis"]
    head = w3.eth.block_number
    accounts = {Web3.to_checksum_address(a) for a in genesis["alloc"]} | set(MODULES)
    accounts |= {a.address for a in DEV_ACCOUNTS} | {VALIDATOR.address}
    held = sum(w3.eth.get_balance(a, head) for a in sorted(accounts))
    staked = supply.functions.staked().call(block_identifier=head)
    genesis_supply, minted, burned = (getattr(supply.functions, f)().call(block_identifier=head) for f in ("genesisSupply", "minted", "burned"))
    assert staked == (30_000 + 10_000 + 5_000 + 10_000 + 10_000) * ETHER
    assert w3.eth.get_balance(STAKING, head) == 0, "stake is in no balance"
    assert held + staked == genesis_supply + minted - burned == supply.functions.totalSupply().call(block_identifier=head)
