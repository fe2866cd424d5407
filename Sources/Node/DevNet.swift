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

    /// The ten funded dev accounts.
    public static let accounts: [PrivateKey] = (0..<10).map(accountKey)
}
