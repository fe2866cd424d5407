// Placeholder until the JSON module lands; replaced by its first real file.
