"""Totals: exact counters per campaign, target, template, channel and day."""
