"""Keys derived from the site's secrets come from one place, webapp/core/keys.py: one HKDF, one purpose per use,
so no two uses share a key, and what is encrypted with one can be read back by it alone."""

from __future__ import annotations

from pathlib import Path

import webapp

WEBAPP = Path(webapp.__file__).resolve().parent


def test_keys_are_derived_in_one_place():
    deriving = sorted(
        str(path.relative_to(WEBAPP))
        for path in WEBAPP.rglob("*.py")
        if "HKDF" in path.read_text(encoding="utf-8") or "hazmat.primitives.kdf" in path.read_text(encoding="utf-8")
    )
    assert deriving == ["core/keys.py"]


def test_each_purpose_has_its_own_key_and_the_credentials_key_wins(app, monkeypatch):
    from webapp.core import keys

    with app.app_context():
        assert keys.site_key("one purpose") != keys.site_key("another purpose")
        assert keys.site_key("one purpose") == keys.site_key("one purpose")
        sealed = keys.credentials_fernet("outcry smtp credentials").encrypt(b"hunter2")
        assert keys.credentials_fernet("outcry smtp credentials").decrypt(sealed) == b"hunter2"
        monkeypatch.setitem(app.config, "CREDENTIALS_KEY", "another key, held apart from the data")
        assert keys.credentials_key("outcry sender budget") != keys.site_key("outcry sender budget")
