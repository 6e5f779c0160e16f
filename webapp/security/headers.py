"""Security headers on every response: a script-free CSP, no framing, no sniffing, no referrer leaks."""

from __future__ import annotations

from flask import Flask, Response

# No inline script or style anywhere: pages load /static/js/outcry.js and /static/css/outcry.css only.
# `form-action 'self'` is safe for the hand-offs because mailto:, Gmail and Outlook are plain links.
CONTENT_SECURITY_POLICY = "; ".join(
    (
        "default-src 'self'",
        "script-src 'self'",
        "style-src 'self'",
        "img-src 'self'",
        "connect-src 'self'",
        "font-src 'self'",
        "object-src 'none'",
        "base-uri 'none'",
        "form-action 'self'",
        "frame-ancestors 'none'",
    )
)


def content_security_policy(*, form_action: tuple[str, ...] = ()) -> str:
    """The policy, with more origins a form may lead to. Chromium checks `form-action` on every redirect after a
    form is posted, so a form whose answer redirects to another site (the consent page of "Send with Google /
    Microsoft") needs that site's origin here; only the pages with such forms get it."""
    if not form_action:
        return CONTENT_SECURITY_POLICY
    return CONTENT_SECURITY_POLICY.replace("form-action 'self'", " ".join(("form-action 'self'", *form_action)))


HEADERS = {
    "Content-Security-Policy": CONTENT_SECURITY_POLICY,
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    # Not `no-referrer`: Flask-WTF checks the Referer of form posts over HTTPS (WTF_CSRF_SSL_STRICT), and
    # `same-origin` still sends it to us while status-page URLs (which hold the submission id) never
    # reach another site.
    "Referrer-Policy": "same-origin",
    "Cross-Origin-Opener-Policy": "same-origin",
    "Permissions-Policy": "camera=(), microphone=(), geolocation=(), payment=()",
}


def add_headers(response: Response) -> Response:
    # A view that lets other sites frame it (the campaign embed, webapp/embed/) sets its own `frame-ancestors`;
    # X-Frame-Options can't name those sites, so DENY is not added to contradict it.
    framable = "frame-ancestors 'none'" not in response.headers.get("Content-Security-Policy", CONTENT_SECURITY_POLICY)
    for name, value in HEADERS.items():
        if name == "X-Frame-Options" and framable:
            continue
        response.headers.setdefault(name, value)
    return response


def init_app(app: Flask) -> None:
    app.after_request(add_headers)
