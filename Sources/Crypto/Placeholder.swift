// Placeholder until the Crypto module lands; replaced by its first real file.
