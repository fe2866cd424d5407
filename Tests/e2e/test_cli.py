"""The `opg` client and `opgd` argument handling, run as real processes."""
import json

from eth_account import Account
from web3 import Web3

from opgnode import BIN, CHAIN_ID, DEV_ACCOUNTS, GENESIS, run, sign

OPG = str(BIN / "opg")
OPGD = str(BIN / "opgd")


def test_tx_decode_prints_every_field(w3):
    signed = sign(DEV_ACCOUNTS[0], w3, nonce=7, value=99, data="0xabcd", gas=30000)
    p = run([OPG, "tx", "decode", Web3.to_hex(signed.raw_transaction)])
    assert p.returncode == 0, p.stderr
    tx = json.loads(p.stdout)
    assert tx["type"] == "0x2" and tx["hash"] == signed.hash.to_0x_hex()
    assert Web3.to_checksum_address(tx["from"]) == DEV_ACCOUNTS[0].address
    assert tx["nonce"] == "0x7" and tx["value"] == "0x63" and tx["input"] == "0xabcd" and tx["chainId"] == hex(CHAIN_ID)
    bad = run([OPG, "tx", "decode", "0x02c0"])
    assert bad.returncode != 0 and "rlp" in bad.stderr.lower() or "field" in bad.stderr.lower()


def test_account_keystore_round_trip_with_eth_account(tmp_path):
    password = tmp_path / "pw"
    password.write_text("correct horse\n")
    keystore = tmp_path / "keys"
    p = run([OPG, "account", "new", "--keystore", str(keystore), "--password-file", str(password)])
    assert p.returncode == 0, p.stderr
    address = Web3.to_checksum_address(p.stdout.strip().split()[-1])
    (key_file,) = list(keystore.iterdir())
    recovered = Account.from_key(Account.decrypt(json.loads(key_file.read_text()), "correct horse"))
    assert recovered.address == address

    theirs = Account.create()
    key_hex = tmp_path / "key.hex"
    key_hex.write_text(theirs.key.hex())
    p = run([OPG, "account", "import", "--keystore", str(keystore), "--password-file", str(password), str(key_hex)])
    assert p.returncode == 0, p.stderr
    listed = run([OPG, "account", "list", "--keystore", str(keystore)]).stdout
    assert address.lower() in listed.lower() and theirs.address.lower() in listed.lower()


def test_balance_send_and_block(node, w3, tmp_path):
    password = tmp_path / "pw"
    password.write_text("pw")
    keystore = tmp_path / "keys"
    key_hex = tmp_path / "key.hex"
    sender = DEV_ACCOUNTS[1]
    key_hex.write_text(sender.key.hex())
    assert run([OPG, "account", "import", "--keystore", str(keystore), "--password-file", str(password), str(key_hex)]).returncode == 0
    recipient = Account.create().address
    p = run([OPG, "send", "--rpc", node.url, "--keystore", str(keystore), "--password-file", str(password),
             "--from", sender.address, "--to", recipient, "--value", "1.5"])
    assert p.returncode == 0, p.stderr
    tx_hash = p.stdout.strip().split()[-1]
    receipt = w3.eth.wait_for_transaction_receipt(tx_hash, timeout=30, poll_latency=0.05)
    assert receipt.status == 1
    assert w3.eth.get_balance(recipient) == 1_500_000_000_000_000_000
    p = run([OPG, "balance", "--rpc", node.url, recipient])
    assert p.returncode == 0 and "1500000000000000000" in p.stdout
    p = run([OPG, "block", "--rpc", node.url, str(receipt.blockNumber)])
    assert p.returncode == 0 and json.loads(p.stdout)["hash"] == receipt.blockHash.to_0x_hex()
    assert json.loads(run([OPG, "block", "--rpc", node.url, "latest"]).stdout)["number"].startswith("0x")


def test_bad_arguments_exit_2_and_name_the_problem(tmp_path):
    for argv, needle in [
        ([OPG, "send", "--to", "0x1234", "--value", "1"], "--to"),
        ([OPG, "balance", "not-an-address"], "address"),
        ([OPG, "frobnicate"], "frobnicate"),
        ([OPGD, "start", "--config", str(tmp_path / "missing.json")], "missing.json"),
        ([OPGD, "init", "--genesis", str(GENESIS)], "--datadir"),
    ]:
        p = run(argv)
        assert p.returncode == 2, (argv, p.returncode, p.stderr)
        assert needle in p.stderr, (argv, p.stderr)
    for cmd in ([OPG, "--help"], [OPG, "account", "--help"], [OPGD, "--help"], [OPGD, "start", "--help"]):
        p = run(cmd)
        assert p.returncode == 0 and "usage" in p.stdout.lower(), cmd


def test_malformed_genesis_and_config_write_nothing(tmp_path):
    good = json.loads(GENESIS.read_text())
    cases = {
        "chainId": dict(good, chainId="five"),
        "alloc": dict(good, alloc={"0x1234": {"balance": "1"}}),
        "blockReward": dict(good, blockReward="-1"),
        "unknownField": dict(good, unknownField=1),
        "gasLimit": dict(good, gasLimit=100),
    }
    for field, genesis in cases.items():
        path = tmp_path / f"{field}.json"
        path.write_text(json.dumps(genesis))
        datadir = tmp_path / f"data-{field}"
        p = run([OPGD, "init", "--genesis", str(path), "--datadir", str(datadir)])
        assert p.returncode == 2 and field in p.stderr, (field, p.stderr)
        assert not datadir.exists() or not any(datadir.iterdir()), f"{field}: something was written"
    broken = tmp_path / "broken.json"
    broken.write_text('{"dataDir": "x", "rpc": {"port": "eighty"}}')
    p = run([OPGD, "start", "--config", str(broken)])
    assert p.returncode == 2 and "rpc.port" in p.stderr, p.stderr


def test_bench_runs_against_its_c_peer():
    """`opgd bench` (tools/bench/run.sh) works on a small block: every row measured, every ratio positive."""
    p = run([OPGD, "bench", "--transactions", "300", "--rounds", "2"])
    assert p.returncode == 0, p.stderr
    rows = [line for line in p.stdout.splitlines() if line.startswith("| ") and not line.startswith("| measurement")]
    assert len(rows) == 4, p.stdout
    for row in rows:
        ratio = row.strip("| ").split("|")[-1].split()[0]
        assert float(ratio) > 0, row
    bad = run([OPGD, "bench", "--rounds", "0"])
    assert bad.returncode == 2 and "--rounds" in bad.stderr
