// Placeholder until the Chain module lands; replaced by its first real file.
