"""Benchmarks for naftiko-runtime; run them from the repository root."""
