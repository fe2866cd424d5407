// Placeholder until PrimitivesTests land.
