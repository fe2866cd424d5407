// Placeholder until HTTPServerTests land.
