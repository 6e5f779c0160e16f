"""Privacy task: the scheduled retention purge, a thin wrapper over the privacy service."""

from __future__ import annotations

from celery import shared_task

from webapp.privacy import service


@shared_task(name="tasks.privacy.purge_expired")
def purge_expired() -> int:
    """Erase the personal data of finished submissions older than RETENTION_DAYS; returns how many."""
    return service.purge().submissions
