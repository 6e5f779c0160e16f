"""The Celery app for `celery -A tasks worker` / `beat`: built from the Flask app factory, nothing else."""

from __future__ import annotations

import contextlib
import os
import socket

from celery import bootsteps
from redis.exceptions import RedisError

from webapp import create_app
from webapp.config import DELIVERY_QUEUE
from webapp.extensions import get_redis
from webapp.health.service import WORKER_KEY_PATTERN

flask_app = create_app()
app = flask_app.extensions["celery"]
app.conf.include = ["tasks.delivery", "tasks.privacy"]


class Heartbeat(bootsteps.StartStopStep):
    """Write a short-lived key while a delivery worker runs, so /healthz can say whether one is alive."""

    requires = {"celery.worker.components:Timer"}

    def __init__(self, worker, **kwargs):
        super().__init__(worker, **kwargs)
        self.key = WORKER_KEY_PATTERN.replace("*", f"{socket.gethostname()}:{os.getpid()}")
        self.ttl = int(flask_app.config["WORKER_HEARTBEAT_TTL"])
        self.timer_ref = None

    def beat(self) -> None:
        if self.key is None:
            return
        # If Redis is down the key goes missing, which is exactly what /healthz should then report.
        with contextlib.suppress(RedisError):
            get_redis(flask_app).set(self.key, "alive", ex=self.ttl)

    def start(self, worker) -> None:
        if DELIVERY_QUEUE not in worker.app.amqp.queues.consume_from:
            self.key = None  # the scheduler's worker: it delivers nothing, so it must not look like a delivery worker
            return
        self.beat()
        self.timer_ref = worker.timer.call_repeatedly(max(1, self.ttl / 3), self.beat)

    def stop(self, worker) -> None:
        if self.timer_ref is not None:
            self.timer_ref.cancel()
        if self.key is None:
            return
        with contextlib.suppress(RedisError):
            get_redis(flask_app).delete(self.key)


app.steps["worker"].add(Heartbeat)
