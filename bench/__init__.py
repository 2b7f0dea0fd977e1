"""Benchmarks (not tests): speed claims live here, never in the test suite."""
