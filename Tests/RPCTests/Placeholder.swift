// Placeholder until RPCTests land.
