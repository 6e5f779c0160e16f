"""The organizer workspace: campaigns, targets, letter templates and versions, dashboards, the organizer API."""
