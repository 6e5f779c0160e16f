"""The organizer workspace: accounts, campaigns, targets, letter templates and versions, dashboards, the organizer API."""
