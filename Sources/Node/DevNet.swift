import Chain
import Crypto
import Primitives

/// The devnet's well-known keys (genesis/devnet.json funds them). They are public:
/// anyone can spend from them, so they exist only for local development.
public enum DevNet {
    /// Dev account `i`'s key: keccak256("opg devnet account i").
    public static func accountKey(_ i: Int) -> PrivateKey {
        // A keccak output is a valid key except with negligible probability; checked by tests.
        try! PrivateKey(Keccak256.digest(Array("opg devnet account \(i)".utf8)))
    }

    /// The devnet validator's key: keccak256("opg devnet validator 0").
    public static let validatorKey = try! PrivateKey(Keccak256.digest(Array("opg devnet validator 0".utf8)))

    /// The devnet validator's consensus key: keccak256("opg devnet consensus 0"), separate
    /// from its account key as on every network; genesis lists its compressed public key.
    public static let consensusKey = try! PrivateKey(Keccak256.digest(Array("opg devnet consensus 0".utf8)))

    /// The validator a genesis without a `validators` list has: the devnet validator
    /// (account `validatorKey`, consensus key `consensusKey`), power 1.
    public static let validator = Validator(address: validatorKey.address, consensusSigner: consensusKey, power: 1)

    /// The ten funded dev accounts.
    public static let accounts: [PrivateKey] = (0..<10).map(accountKey)

    /// genesis/devnet.json, byte for byte, built into the binary so that `opgd dev` runs
    /// from any directory (a test keeps the two identical; block 0 stores these bytes).
    public static let genesisJSON = #"""
{
  "chainId": 5197895,
  "networkName": "opg-devnet",
  "timestamp": 0,
  "gasLimit": 30000000,
  "initialBaseFee": "1000000000",
  "blockReward": "2000000000000000000",
  "extraData": "0x6f70672d6465766e6574",
  "validators": [
    { "address": "0x6C3a40Fb0381d633c73222AB79E9982664517ED8", "consensusKey": "0x038208e77af80a68f0592f649558af56a00db905d07182c5234e7358b2201c2f2c", "power": 1 }
  ],
  "alloc": {
    "0x968A228867563fFe9bD76eFAc37f0090cFC77Fa8": { "balance": "1000000000000000000000000" },
    "0x83324D58ce55197B061dC3B5f3059A3A2500D069": { "balance": "1000000000000000000000000" },
    "0xDE668ca9e82f1E1b9A430251070BdCE30B382070": { "balance": "1000000000000000000000000" },
    "0x82d537BD5E77eBE59dbA2F353cE30f258E6eAdf4": { "balance": "1000000000000000000000000" },
    "0x99630DFa019dD8889132B98E5317314dE12126dC": { "balance": "1000000000000000000000000" },
    "0x43d00035D8CDE3FEC391939afb91353DB01e44b3": { "balance": "1000000000000000000000000" },
    "0x4e80268c95a98e8CEcBCB980D5D75821ac777a37": { "balance": "1000000000000000000000000" },
    "0x8CEe60B0336279A9d1fcA5756c803DA39B995470": { "balance": "1000000000000000000000000" },
    "0xDe8619b533c7DB2833A510F7529221b971F4bf64": { "balance": "1000000000000000000000000" },
    "0xf75ccBCf565629e6c49DAbdeE48A0EB2b2460D4B": { "balance": "1000000000000000000000000" }
  }
}
"""# + "\n"
}
