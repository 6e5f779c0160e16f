"""Outcry test suite."""
