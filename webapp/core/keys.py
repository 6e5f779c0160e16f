"""Keys derived from the site's secrets: the one place they are made (HKDF-SHA256), with one `purpose` for each use,
so no two uses share a key and none is a secret itself.

SECRET_KEY signs sessions; CREDENTIALS_KEY (else SECRET_KEY) keeps supporters' passwords and sign-ins, and is never
stored with the data (webapp/delivery/credentials.py says why). A purpose is also the HKDF `info`: changing one
makes everything kept under it unreadable, so they stay as they were first written.
"""

from __future__ import annotations

import base64

from cryptography.fernet import Fernet
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from flask import current_app


def derive(secret: str, purpose: str) -> bytes:
    """32 bytes for `purpose`, derived from `secret`."""
    return HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=purpose.encode()).derive(secret.encode())


def site_key(purpose: str) -> bytes:
    """A key for `purpose` from SECRET_KEY."""
    return derive(current_app.config["SECRET_KEY"], purpose)


def credentials_key(purpose: str) -> bytes:
    """A key for `purpose` from CREDENTIALS_KEY, else SECRET_KEY."""
    config = current_app.config
    return derive(config.get("CREDENTIALS_KEY") or config["SECRET_KEY"], purpose)


def credentials_fernet(purpose: str) -> Fernet:
    """Fernet (AES-128-CBC + HMAC) with the credentials key for `purpose`."""
    return Fernet(base64.urlsafe_b64encode(credentials_key(purpose)))
