"""Delivery tasks: ids in, services do the work; only temporary failures are retried."""

from __future__ import annotations

from celery import Celery, shared_task
from kombu.exceptions import ChannelError
from sqlalchemy.exc import DBAPIError

from webapp import outbox
from webapp.config import DELIVERY_QUEUE
from webapp.delivery import service


@shared_task(name="tasks.delivery.send_submission", bind=True, max_retries=None)
def send_submission(self, submission_id: str) -> None:
    """Send a submission's due letters in one conversation with the supporter's mail server."""
    try:
        service.deliver_submission(submission_id)
    except service.RetryLater as exc:
        raise self.retry(countdown=exc.countdown, exc=exc) from None
    except DBAPIError as exc:
        if not outbox.database_unreachable(exc):
            raise
        # The database went away (a restart, a failover). Letters this run claimed wait for their lease;
        # the rest are taken by this retry, soon, instead of by the sweeper, later.
        raise self.retry(countdown=min(30.0, 2.0 ** min(self.request.retries, 5)), exc=exc) from None


@shared_task(name="tasks.delivery.sweep_outbox", bind=True)
def sweep_outbox(self) -> int:
    """Re-queue letters whose lease ran out: lost messages, killed workers, a flushed broker."""
    submission_ids = outbox.sweep(backlog=waiting_deliveries(self.app))
    for submission_id in submission_ids:
        outbox.enqueue(submission_id)
    service.forget_finished_credentials()
    return len(submission_ids)


def waiting_deliveries(celery_app: Celery) -> int:
    """Delivery messages waiting in the broker; 0 when the queue is gone (empty, or the broker was flushed)."""
    with celery_app.connection_for_read() as connection:
        try:
            return connection.default_channel.queue_declare(queue=DELIVERY_QUEUE, passive=True).message_count
        except ChannelError:
            return 0
