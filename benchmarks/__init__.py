"""Benchmarks of cps-harness, each row against an anchor measured in the same run: ``python -m benchmarks``."""
