"""Delivery tasks: ids in, services do the work; only temporary failures are retried."""

from __future__ import annotations

from celery import shared_task

from webapp.delivery import service
from webapp.letters.service import enqueue


@shared_task(name="tasks.delivery.send_submission", bind=True, max_retries=None)
def send_submission(self, submission_id: str) -> None:
    """Send a submission's due letters over one connection to the supporter's mail server."""
    try:
        service.deliver_submission(submission_id)
    except service.RetryLater as exc:
        raise self.retry(countdown=exc.countdown, exc=exc) from None


@shared_task(name="tasks.delivery.sweep_outbox")
def sweep_outbox() -> int:
    """Re-queue letters whose lease ran out: lost messages, killed workers, a flushed broker."""
    submission_ids = service.sweep_outbox()
    for submission_id in submission_ids:
        enqueue(submission_id)
    return len(submission_ids)
