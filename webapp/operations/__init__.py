"""Operator commands: the settings in force, a test letter, the outbox's stuck letters, and one-line logs."""
