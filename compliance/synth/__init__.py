"""Synthetic registries for load tests and benchmarks."""
