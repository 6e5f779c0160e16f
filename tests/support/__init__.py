"""Helpers the tests share: a real SMTP server and small waiting utilities."""
