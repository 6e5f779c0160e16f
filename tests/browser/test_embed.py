"""The embed in a real browser: a page on another origin (a second local server) shows the campaign in an
<iframe> that grows to its content, its buttons open the full campaign in a new tab, and a site the organizers
didn't list gets nothing but Chromium's refusal."""

from __future__ import annotations

import contextlib
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from playwright.sync_api import expect

from tests.browser.conftest import screenshot
from tests.browser.test_organizer import log_in
from tests.organize.conftest import ADMIN
from tests.support.letters import LAUNCH
from tests.support.waiting import wait_for
from webapp.extensions import db
from webapp.organize import campaigns

TITLE = "Reunite families separated at the border"


class HostSite:
    """Someone else's website: one page that pastes the dashboard's snippet, served from 127.0.0.1:<port>."""

    def __init__(self, snippet: str):
        page = (
            "<!doctype html><html><head><meta charset='utf-8'><title>Allies for families</title></head>"
            "<body><h1>Allies for families</h1><p>Our members are writing to Congress this week.</p>"
            f"{snippet}<p id='after'>Thank you for acting with us.</p></body></html>"
        ).encode()

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self):  # noqa: N802 - the http.server name
                self.send_response(200)
                self.send_header("Content-Type", "text/html; charset=utf-8")
                self.send_header("Content-Length", str(len(page)))
                self.end_headers()
                self.wfile.write(page)

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.origin = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self) -> HostSite:
        self.thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def snippet(new_page, people) -> str:
    """The snippet exactly as the dashboard gives it to an organizer, with its "how it looks" preview working."""
    page = new_page()
    log_in(page, ADMIN)
    page.goto(f"/organize/c/{LAUNCH}/dashboard#embed")
    page.locator("#embed summary").click()
    preview = page.frame_locator("#embed iframe[data-outcry-embed]")
    expect(preview.get_by_role("heading", name=TITLE)).to_be_visible()  # this site may always frame it
    return page.get_by_label("The code to paste").input_value()


def allow(app, *origins: str) -> None:
    with app.app_context():
        campaign = campaigns.find_campaign(LAUNCH)
        campaign.embed_origins = list(origins)
        db.session.commit()


@pytest.fixture
def host_page(browser):
    """A page in a fresh context of its own (not `new_page`: a refused frame is expected to log a CSP error)."""
    contexts = []

    def factory(width: int = 1024, height: int = 800):
        context = browser.new_context(viewport={"width": width, "height": height})
        context.set_default_timeout(15_000)
        contexts.append(context)
        page = context.new_page()
        page.messages = []
        page.on("console", lambda message: page.messages.append(message.text))
        return page

    yield factory
    for context in contexts:
        context.close()


def frame_height(page) -> float:
    return page.locator("iframe[data-outcry-embed]").evaluate("frame => frame.getBoundingClientRect().height")


def test_the_embed_works_on_another_origin_and_grows_to_its_content(app, snippet, host_page, live_server):
    assert snippet.startswith(f'<iframe src="{live_server}/c/{LAUNCH}/embed"')
    with HostSite(snippet) as site:
        allow(app, site.origin)
        try:
            page = host_page()
            page.goto(site.origin + "/")
            frame = page.frame_locator("iframe[data-outcry-embed]")
            expect(frame.get_by_role("heading", name=TITLE)).to_be_visible()
            content = lambda: frame.locator("html").evaluate("html => Math.ceil(html.getBoundingClientRect().height)")  # noqa: E731
            wait_for(lambda: abs(frame_height(page) - content()) <= 1, what="the frame to take its content's height")
            before = frame_height(page)
            assert before != 640  # the snippet's starting height was replaced by the content's

            # The ZIP lookup runs inside the frame; the frame grows with the list of members.
            frame.get_by_label("Your ZIP code").fill("94110")
            frame.get_by_role("button", name="Find them").click()
            expect(frame.get_by_text("Senator Alex Padilla")).to_be_visible()
            wait_for(lambda: frame_height(page) > before and abs(frame_height(page) - content()) <= 1,
                     what="the frame to grow with the members")  # fmt: skip
            screenshot(page, "6-embed-on-another-site")

            # A message from anywhere but the frame itself changes nothing.
            height = frame_height(page)
            page.evaluate("window.postMessage({type: 'outcry:height', height: 5}, '*')")
            page.wait_for_timeout(300)
            assert frame_height(page) == height

            # Writing happens on Outcry's own page, in a new tab.
            with page.context.expect_page() as opened:
                frame.get_by_role("link", name="Write").first.click()
            tab = opened.value
            tab.wait_for_load_state()
            assert tab.url.startswith(f"{live_server}/c/{LAUNCH}/write")
        finally:
            allow(app)


def test_a_site_not_on_the_list_gets_no_campaign(app, snippet, host_page):
    with HostSite(snippet) as allowed, HostSite(snippet) as stranger:
        allow(app, allowed.origin)
        try:
            page = host_page()
            page.goto(stranger.origin + "/")
            page.wait_for_load_state("load")
            page.locator("iframe[data-outcry-embed]").scroll_into_view_if_needed()  # a lazy frame loads in view
            # Chromium logs the CSP refusal and shows its error page in the frame; either is the refusal.
            wait_for(
                lambda: (
                    any("frame-ancestors" in text for text in page.messages)
                    or any(f.url.startswith("chrome-error:") for f in page.frames if f != page.main_frame)
                ),
                what="Chromium to refuse the frame",
            )
            frame = page.frame_locator("iframe[data-outcry-embed]")
            expect(frame.get_by_role("heading", name=TITLE)).to_have_count(0)
            embedded = [f for f in page.frames if f != page.main_frame]
            assert embedded and all(TITLE not in (f.content() if not f.is_detached() else "") for f in embedded)

            # The same page on the listed site shows it.
            listed = host_page()
            listed.goto(allowed.origin + "/")
            expect(listed.frame_locator("iframe[data-outcry-embed]").get_by_role("heading", name=TITLE)).to_be_visible()
        finally:
            allow(app)
        with contextlib.suppress(Exception):
            page.close()
