"""Benchmarks: programs that measure, run with `python -m bench.<name>`; timing never lives in tests."""
