"""Benchmark harness (`make bench`); scenarios live in tools/bench/scenarios/, one module per group."""
