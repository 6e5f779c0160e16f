"""Members of Congress by ZIP: bundled public-domain data, its loading and refresh, and a cached lookup."""

from webapp.congress import models as models  # the tables exist for SQLAlchemy and Alembic once the app loads
