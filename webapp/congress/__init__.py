"""Members of Congress by ZIP: the cached lookup (service.py), the bundled public-domain data files and their reader
(files.py), loading and refreshing them (load.py), and the contact-form links organizers enter (links.py)."""

from webapp.congress import models as models  # the tables exist for SQLAlchemy and Alembic once the app loads
