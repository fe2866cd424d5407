// Placeholder until the Primitives module lands; replaced by its first real file.
