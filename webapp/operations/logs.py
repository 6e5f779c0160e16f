"""Logging for operators: one event, one line, in the `event key=value` style the services write.

Submission and letter ids are capabilities: whoever has one can open that supporter's letters (the status
page, the print page, the API). So no log line carries a whole one. Every record, from any logger in the
process (our services, Celery, gunicorn's access log, Werkzeug), is rewritten as it is made: the id after
`submission=` or `letter=`, in a path under `/s/`, `/l/`, `/submissions/` or `/letters/`, and any letter id
(32 hex digits, as in a Message-ID) keeps its first six characters and a `~`. That is enough to follow one
letter through the web, worker and access logs, and far too little to open anything.
"""

from __future__ import annotations

import logging
import re

FORMAT = "%(asctime)s %(levelname)s %(name)s %(message)s"

_ID = r"[A-Za-z0-9_-]"
_KEYED = re.compile(rf"\b((?:submission|letter)(?:_id)?=)({_ID}{{6}}){_ID}+")
_IN_PATH = re.compile(rf"(/(?:s|l|submissions|letters)/)({_ID}{{6}}){_ID}+")
_LETTER_ID = re.compile(r"(?<![0-9A-Za-z_-])()([0-9a-f]{6})[0-9a-f]{26}(?![0-9A-Za-z_-])")


def redact(text: str) -> str:
    """`text` with every submission and letter id cut to its first six characters."""
    if not text:
        return text
    for pattern in (_KEYED, _IN_PATH, _LETTER_ID):
        text = pattern.sub(r"\1\2~", text)
    return text


class OneLineFormatter(logging.Formatter):
    """Escapes line breaks, in the message and in a traceback alike.

    A log line then never splits into several (log shippers see whole events), and a value that
    carries a newline cannot forge a line of its own.
    """

    def format(self, record: logging.LogRecord) -> str:
        return super().format(record).replace("\r", "\\r").replace("\n", "\\n")


_traceback_formatter = logging.Formatter()


def _redacting_factory(make_record):
    def factory(*args, **kwargs) -> logging.LogRecord:
        record = make_record(*args, **kwargs)
        try:
            message = record.getMessage()
        except Exception:  # noqa: BLE001 - a malformed record is logging's to report, as it would without us
            return record
        record.msg, record.args = redact(message), None
        if record.exc_info and not record.exc_text:
            record.exc_text = redact(_traceback_formatter.formatException(record.exc_info))
        return record

    factory.outcry_redacts = True  # type: ignore[attr-defined]
    return factory


def install_redaction() -> None:
    """Make every log record of this process redact ids (once, however many apps the process creates)."""
    current = logging.getLogRecordFactory()
    if not getattr(current, "outcry_redacts", False):
        logging.setLogRecordFactory(_redacting_factory(current))


def configure() -> None:
    """Ids out of every record; and one stderr handler on the root logger, unless a host program (gunicorn,
    pytest) set logging up."""
    install_redaction()
    root = logging.getLogger()
    if root.handlers:
        return
    handler = logging.StreamHandler()
    handler.setFormatter(OneLineFormatter(FORMAT))
    root.addHandler(handler)
    root.setLevel(logging.INFO)
