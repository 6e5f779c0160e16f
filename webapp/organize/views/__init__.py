"""The organizer workspace at /organize: one blueprint (`organize`, in workspace.py), its routes in a module per area."""

from webapp.organize.views import accounts, campaigns, congress, dashboard, letters, targets
from webapp.organize.views.workspace import bp

__all__ = ["bp", "accounts", "campaigns", "congress", "dashboard", "letters", "targets"]
