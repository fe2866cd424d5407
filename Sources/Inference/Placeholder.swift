// Placeholder until the Inference module lands; replaced by its first real file.
