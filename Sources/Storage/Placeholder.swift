// Placeholder until the Storage module lands; replaced by its first real file.
