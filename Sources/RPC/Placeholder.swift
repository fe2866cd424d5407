// Placeholder until the RPC module lands; replaced by its first real file.
