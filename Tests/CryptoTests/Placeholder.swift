// Placeholder until CryptoTests land.
