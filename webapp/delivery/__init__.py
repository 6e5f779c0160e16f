"""Delivery through the supporter's own mail server: credentials, SSRF policy, SMTP, the outbox."""
