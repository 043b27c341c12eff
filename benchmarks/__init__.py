"""Benchmarks of the compliance tracker on synthetic registries (`make bench`)."""
