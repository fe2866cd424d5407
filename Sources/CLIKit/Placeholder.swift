// Placeholder until the CLIKit module lands.
