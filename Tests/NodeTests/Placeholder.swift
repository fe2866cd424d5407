// Placeholder until NodeTests land.
