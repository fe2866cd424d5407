/// A Noise CipherState (spec rev 34 §5.1): a key and a 64-bit nonce that counts the messages sent
/// (or received) under it. Nonces are implicit, so a message lost, replayed or reordered fails
/// to decrypt and ends the session. Not thread-safe: one direction of one connection owns it.
public struct CipherState {
    /// The 2^64−1 nonce is reserved (§5.1); reaching it ends the session.
    static let maximumNonce = UInt64.max

    private var key: ChaChaPolyKey?
    /// The next nonce to use.
    private(set) var nonce: UInt64

    /// A cipher state with key `key` (nil: messages pass in clear, as before the first DH).
    init(key: [UInt8]?, nonce: UInt64 = 0) {
        self.key = key.map(ChaChaPolyKey.init)
        self.nonce = nonce
    }

    /// Whether a key is set.
    var hasKey: Bool { key != nil }

    /// EncryptWithAd: encrypts and advances the nonce; without a key returns the plaintext.
    mutating func encrypt(associatedData: [UInt8], _ plaintext: [UInt8]) throws -> [UInt8] {
        try useNonce(passingThrough: plaintext) { key, nonce in
            try key.encrypt(nonce: nonce, associatedData: associatedData, plaintext: plaintext)
        }
    }

    /// DecryptWithAd: decrypts and advances the nonce only on success; without a key returns the
    /// ciphertext.
    mutating func decrypt(associatedData: [UInt8], _ ciphertext: [UInt8]) throws -> [UInt8] {
        try useNonce(passingThrough: ciphertext) { key, nonce in
            try key.decrypt(nonce: nonce, associatedData: associatedData, ciphertext: ciphertext)
        }
    }

    /// Runs `operation` with the key and the next nonce, advancing the nonce when it succeeds;
    /// without a key returns `input` unchanged.
    private mutating func useNonce(passingThrough input: [UInt8], _ operation: (ChaChaPolyKey, UInt64) throws -> [UInt8]) throws -> [UInt8] {
        guard let key else { return input }
        guard nonce < Self.maximumNonce else { throw NetworkError.nonceExhausted }
        let out = try operation(key, nonce)
        nonce += 1
        return out
    }
}

/// A Noise SymmetricState (§5.2): chaining key, handshake hash and the current cipher state.
struct SymmetricState {
    private(set) var chainingKey: [UInt8]
    private(set) var handshakeHash: [UInt8]
    private var cipher = CipherState(key: nil)

    /// InitializeSymmetric(protocol_name): the name padded to HASHLEN, or hashed when longer.
    init(protocolName: String) {
        var name = Array(protocolName.utf8)
        if name.count <= NoiseCrypto.hashLength {
            name += [UInt8](repeating: 0, count: NoiseCrypto.hashLength - name.count)
        } else {
            name = NoiseCrypto.hash(name)
        }
        handshakeHash = name
        chainingKey = name
    }

    /// MixKey(input_key_material).
    mutating func mixKey(_ inputKeyMaterial: [UInt8]) {
        let outputs = NoiseCrypto.hkdf(chainingKey: chainingKey, inputKeyMaterial: inputKeyMaterial, outputs: 2)
        chainingKey = outputs[0]
        cipher = CipherState(key: outputs[1])
    }

    /// MixHash(data).
    mutating func mixHash(_ data: [UInt8]) {
        handshakeHash = NoiseCrypto.hash(handshakeHash + data)
    }

    /// EncryptAndHash(plaintext).
    mutating func encryptAndHash(_ plaintext: [UInt8]) throws -> [UInt8] {
        let ciphertext = try cipher.encrypt(associatedData: handshakeHash, plaintext)
        mixHash(ciphertext)
        return ciphertext
    }

    /// DecryptAndHash(ciphertext).
    mutating func decryptAndHash(_ ciphertext: [UInt8]) throws -> [UInt8] {
        let plaintext = try cipher.decrypt(associatedData: handshakeHash, ciphertext)
        mixHash(ciphertext)
        return plaintext
    }

    /// Whether EncryptAndHash encrypts (a key has been mixed in).
    var hasKey: Bool { cipher.hasKey }

    /// Split(): the initiator's sending and the responder's sending cipher states.
    func split() -> (initiatorToResponder: CipherState, responderToInitiator: CipherState) {
        let outputs = NoiseCrypto.hkdf(chainingKey: chainingKey, inputKeyMaterial: [], outputs: 2)
        return (CipherState(key: outputs[0]), CipherState(key: outputs[1]))
    }
}
