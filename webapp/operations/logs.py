"""Logging for operators: one event, one line, in the `event key=value` style the services write."""

from __future__ import annotations

import logging

FORMAT = "%(asctime)s %(levelname)s %(name)s %(message)s"


class OneLineFormatter(logging.Formatter):
    """Escapes line breaks, in the message and in a traceback alike.

    A log line then never splits into several (log shippers see whole events), and a value that
    carries a newline cannot forge a line of its own.
    """

    def format(self, record: logging.LogRecord) -> str:
        return super().format(record).replace("\r", "\\r").replace("\n", "\\n")


def configure() -> None:
    """One stderr handler on the root logger, unless a host program (gunicorn, pytest) set logging up."""
    root = logging.getLogger()
    if root.handlers:
        return
    handler = logging.StreamHandler()
    handler.setFormatter(OneLineFormatter(FORMAT))
    root.addHandler(handler)
    root.setLevel(logging.INFO)
