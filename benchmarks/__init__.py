"""Benchmarks: speed and memory measured on this machine, reported as medians."""
