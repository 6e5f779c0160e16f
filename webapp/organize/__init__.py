"""The organizer workspace: campaigns, targets, letter templates and versions, dashboards, the organizer API.

Its services (campaigns, targets, target_import, letter_templates) flush what they write and never commit: the edges
that call them (the workspace views, the API, the commands) commit once, after the last write, so what one request
changes lands together or not at all. The one exception is a member of Congress's contact-form link (congress.py):
webapp/congress/links.py commits it itself, before it clears the Congress lookup's cache."""
