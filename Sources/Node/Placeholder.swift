// Placeholder until the Node module lands; replaced by its first real file.
