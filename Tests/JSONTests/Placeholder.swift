// Placeholder until JSONTests land.
