"""Campaigns: the files organizers keep, and the per-process copy of each published campaign."""
