// Placeholder until the HTTPServer module lands; replaced by its first real file.
