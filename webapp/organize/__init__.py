"""The organizer workspace: campaigns, targets, letter templates and versions, dashboards, the organizer API.

Its services (campaigns, targets, target_import, letter_templates, congress) flush what they write and never commit:
the edges that call them (the workspace views, the API, the commands) commit once, after the last write, so what one
request changes lands together or not at all."""
