"""Tests that try the attacks Outcry must resist (issue 5)."""
