// Placeholder until InferenceTests land.
