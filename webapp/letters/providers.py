"""Settings for common mail providers, so most supporters only type their user name and an app password."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Provider:
    key: str
    label: str
    host: str
    port: int
    security: str
    help: str


PROVIDERS: tuple[Provider, ...] = (
    Provider(
        "gmail",
        "Gmail",
        "smtp.gmail.com",
        587,
        "starttls",
        "Gmail needs an app password (Google Account → Security → 2-Step Verification → App passwords), not your usual password.",
    ),
    Provider(
        "outlook",
        "Outlook.com / Hotmail",
        "smtp-mail.outlook.com",
        587,
        "starttls",
        "Use your full Outlook address as the user name. If you use two-step verification, create an app password first.",
    ),
    Provider(
        "microsoft365",
        "Microsoft 365 (work or school)",
        "smtp.office365.com",
        587,
        "starttls",
        "Your organization may have turned off sending from other apps; ask your IT team if sending fails.",
    ),
    Provider(
        "yahoo",
        "Yahoo Mail",
        "smtp.mail.yahoo.com",
        465,
        "ssl",
        "Yahoo needs an app password (Account security → Generate app password).",
    ),
    Provider(
        "icloud",
        "iCloud Mail",
        "smtp.mail.me.com",
        587,
        "starttls",
        "iCloud needs an app-specific password (appleid.apple.com → Sign-In and Security).",
    ),
    Provider(
        "fastmail",
        "Fastmail",
        "smtp.fastmail.com",
        465,
        "ssl",
        "Fastmail needs an app password (Settings → Privacy & Security → App passwords).",
    ),
)

BY_KEY = {provider.key: provider for provider in PROVIDERS}
