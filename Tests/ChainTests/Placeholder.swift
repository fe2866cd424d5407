// Placeholder until ChainTests land.
