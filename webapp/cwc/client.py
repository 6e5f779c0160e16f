"""Where CWC letters go (the endpoint from the operator's settings) and what came back.

The exchange itself is the delivery engine's (webapp/delivery/cwc.py `post`), through the HTTPS client the mail
providers' APIs use (webapp/delivery/https.py): one deadline over the whole POST, the lookup inside it, a cap on the
reply, the API key never in an exception, a log line or a reason.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from urllib.parse import urlsplit

MAX_REPLY = 64 * 1024  # CWC answers in a few hundred bytes; a longer reply is cut here
USER_AGENT = "Outcry (Communicating with Congress delivery agent software)"


@dataclass(frozen=True)
class Endpoint:
    url: str  # https://host[:port]/path, no query (checked by config.check_cwc)
    key: str = field(repr=False)
    ca_file: str | None = None

    @property
    def host(self) -> str:
        return urlsplit(self.url).hostname or ""

    @property
    def port(self) -> int:
        return urlsplit(self.url).port or 443


@dataclass(frozen=True)
class Reply:
    status: int
    body: bytes
    truncated: bool = False
