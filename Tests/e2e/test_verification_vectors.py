"""The encodings of docs/verification.md ("Encodings") reproduced with eth-account and
eth-abi, independently of opg: the job id, the EIP-712 domain separator, struct hash and
digest that `encode_typed_data` builds for an attestation, the signature, and the
commitment. JobsTests.testEncodingsMatchTheDocumentedVectors pins the same values in Swift."""
from eth_abi import encode
from eth_account import Account
from eth_account.messages import encode_typed_data
from eth_utils import keccak

JOBS = "0x00000000000000000000000000000000000000F7"
CHAIN_ID = 1337
REQUESTER = "0x" + "11" * 20
KEY = keccak(b"opg verification vector key")

JOB_ID = "4d876aa2c46d258c5e75097574e87984c313271864a39f6ec76b6e43d7d6db34"
DOMAIN_SEPARATOR = "003971f91d93cbd17073c69278b5e5fc38f999c0e7329d803553d9fd094b11d6"
STRUCT_HASH = "43c918413d83203da11ebf3c7df84386d4695783619a316cf209a0f08c12c595"
DIGEST = "098186273da977bd79a5bb6a244190936ea19820c9f856cdbb5ed1226421d782"
SIGNATURE = ("d8fe39d4bcc5349dd5159a33df809d3c00efc7ea213736ae7e081cb18dc5596e"
             "7611da4ce4035ee1f7df57e241ed3daa880ef7b988540032c77ad9209dccb6421b")
COMMITMENT = "d5d1036d7c633c4e2871911e0171d7c8d2931809bcf56b9d8a86fa5fb70263f2"

TYPES = {
    "EIP712Domain": [{"name": "name", "type": "string"}, {"name": "version", "type": "string"},
                     {"name": "chainId", "type": "uint256"}, {"name": "verifyingContract", "type": "address"}],
    "Attestation": [{"name": "jobId", "type": "bytes32"}, {"name": "modelId", "type": "string"},
                    {"name": "inputHash", "type": "bytes32"}, {"name": "outputHash", "type": "bytes32"},
                    {"name": "traceRoot", "type": "bytes32"}, {"name": "verdict", "type": "uint8"},
                    {"name": "epoch", "type": "uint64"}],
}


def attestation(job_id: bytes, model_id: str, input_hash: bytes, output_hash: bytes, trace_root: bytes, verdict: int, epoch: int,
                chain_id: int, verifying_contract: str = JOBS):
    """The typed data a verifier signs (docs/verification.md), for eth-account."""
    return encode_typed_data(full_message={
        "types": TYPES, "primaryType": "Attestation",
        "domain": {"name": "OPG-Verify", "version": "1", "chainId": chain_id, "verifyingContract": verifying_contract},
        "message": {"jobId": job_id, "modelId": model_id, "inputHash": input_hash, "outputHash": output_hash,
                    "traceRoot": trace_root, "verdict": verdict, "epoch": epoch}})


def digest_of(message) -> bytes:
    return keccak(b"\x19\x01" + message.header + message.body)


def commitment(digest: bytes, salt: bytes, verifier: str) -> bytes:
    return keccak(digest + salt + bytes.fromhex(verifier[2:]))


def job_id(chain_id: int, requester: str, nonce: int) -> bytes:
    return keccak(encode(["uint256", "address", "uint256"], [chain_id, requester, nonce]))


def test_the_documented_vectors():
    jid = job_id(CHAIN_ID, REQUESTER, 7)
    assert jid.hex() == JOB_ID
    message = attestation(jid, "QmYwAPJzv5CZsnA625s3Xf2nemtYgPpHdWEz79ojWnPbdG", keccak(b"input"), keccak(b"output"),
                          keccak(b"trace"), 1, 42, CHAIN_ID)
    assert message.header.hex() == DOMAIN_SEPARATOR
    assert message.body.hex() == STRUCT_HASH
    digest = digest_of(message)
    assert digest.hex() == DIGEST
    account = Account.from_key(KEY)
    assert account.address == "0xB7CcfC13cC50C52889c5fEC7a284314DE7931CfE"
    assert Account.sign_message(message, KEY).signature.hex().removeprefix("0x") == SIGNATURE
    assert commitment(digest, keccak(b"salt"), account.address).hex() == COMMITMENT


def test_the_domain_separates_chain_and_module():
    jid = job_id(CHAIN_ID, REQUESTER, 7)
    args = (jid, "QmA", keccak(b"i"), keccak(b"o"), keccak(b"t"), 1, 0)
    base = digest_of(attestation(*args, CHAIN_ID))
    assert digest_of(attestation(*args, CHAIN_ID + 1)) != base
    assert digest_of(attestation(*args, CHAIN_ID, "0x00000000000000000000000000000000000000F6")) != base
