"""Campaigns: the files organizers keep, the pages supporters open."""
