"""Real-browser machinery: Chromium driven by Playwright against the app served by a real gunicorn, with a
real Celery worker process, the suite's database and Redis, and the suite's aiosmtpd server.

Chromium is Debian's (`/usr/bin/chromium`; Playwright's own browser download is not used). The app is
reached at http://localhost, which Chromium treats as a secure origin: the session cookie stays `Secure`,
as in production, and the clipboard works. OUTCRY_BROWSER_TESTS=skip skips the group (`.ci/run` sets it for
its second run), =required fails it when Chromium is missing; by default it is skipped without Chromium.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from tests.conftest import PROJECT
from tests.mailauth.conftest import mail_apis, oauth_server  # noqa: F401 - the stand-in Google and Microsoft
from tests.organize.conftest import clean_organize, own_campaign, people  # noqa: F401 - the organizer fixtures
from tests.support.mailserver import free_port
from tests.support.oauth_server import CLIENT_ID, CLIENT_SECRET
from tests.support.waiting import wait_for

BIN = Path(sys.executable).parent
CHROMIUM = os.environ.get("OUTCRY_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
    "--disable-sync",
    "--disable-dev-shm-usage",
]
OUTPUT = PROJECT / "test-output" / "browser"
MODE = os.environ.get("OUTCRY_BROWSER_TESTS", "auto")


def pytest_collection_modifyitems(config, items):
    """Everything under tests/browser carries the `browser` marker (so `-m "not browser"` leaves it out)."""
    here = Path(__file__).parent
    for item in items:
        if here in Path(str(item.fspath)).parents:
            item.add_marker(pytest.mark.browser)


@pytest.fixture(scope="session")
def chromium_path() -> str:
    if MODE == "skip":
        pytest.skip("OUTCRY_BROWSER_TESTS=skip")
    found = CHROMIUM if Path(CHROMIUM).is_file() else shutil.which("chromium")
    if not found:
        if MODE == "required":
            pytest.fail(f"Chromium is not installed at {CHROMIUM} (apt-get install chromium)")
        pytest.skip(f"no Chromium at {CHROMIUM}: install Debian's chromium to run the browser tests")
    try:
        import playwright  # noqa: F401
    except ImportError:
        if MODE == "required":
            raise
        pytest.skip("the playwright package is not installed (requirements-dev.txt)")
    return found


class Process:
    """A subprocess of ours in its own process group, with its output in a log file."""

    def __init__(self, name: str, args: list[str], env: dict[str, str], log: Path):
        self.name, self.log = name, log
        with open(log, "ab") as out:
            self.process = subprocess.Popen(
                args, cwd=PROJECT, env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True
            )

    def output(self) -> str:
        return self.log.read_text(errors="replace") if self.log.exists() else ""

    def check_alive(self) -> None:
        if self.process.poll() is not None:
            raise AssertionError(f"{self.name} exited with {self.process.returncode}:\n{self.output()[-4000:]}")

    def stop(self, sig: int = signal.SIGTERM) -> None:
        if self.process.poll() is None:
            self.process.send_signal(sig)
            try:
                self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(self.process.pid, 9)
                self.process.wait()


@pytest.fixture(scope="package")
def provider_settings(request, mail_server) -> dict[str, str]:
    """ "Send with Google / Microsoft" pointed at the stand-in provider and mail APIs, as environment settings."""
    provider, apis = request.getfixturevalue("oauth_server"), request.getfixturevalue("mail_apis")
    return {
        **{f"{name}_CLIENT_ID": CLIENT_ID for name in ("GOOGLE", "MICROSOFT")},
        **{f"{name}_CLIENT_SECRET": CLIENT_SECRET for name in ("GOOGLE", "MICROSOFT")},
        "GOOGLE_ACCOUNTS_URL": provider.base,
        "GOOGLE_OAUTH2_URL": provider.base,
        "MICROSOFT_LOGIN_URL": provider.base,
        "GMAIL_API_URL": apis.base,
        "GRAPH_API_URL": apis.base,
        "OAUTH_ALLOWED_HOSTS": f"{provider.address},{apis.address}",
        "OAUTH_CA_FILE": str(mail_server.ca_file),
        "MAIL_SETTINGS_MX_LOOKUP": "false",
    }


@pytest.fixture(scope="package")
def live_server(chromium_path, app, mail_server, tmp_root, provider_settings, request):
    """gunicorn 'webapp:create_app()' and `celery -A tasks worker`, configured only through the environment,
    with "Send with Google / Microsoft" pointing at the test authorization server and the mail API stand-ins.

    Package-scoped: both stop when the browser tests are done, so this worker never picks up the letters of
    later tests (it shares their Redis queue)."""
    port = free_port()
    logs = tmp_root / "browser-logs"
    logs.mkdir(exist_ok=True)
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith(("FLASK_", "OUTCRY_"))},
        "DATABASE_URL": app.config["DATABASE_URL"],
        "REDIS_URL": app.config["REDIS_URL"],
        "CREDENTIALS_REDIS_URL": app.config["CREDENTIALS_REDIS_URL"],
        "SECRET_KEY": app.config["SECRET_KEY"],  # the suite's own worker thread can decrypt what this server stores
        "SMTP_ALLOWED_HOSTS": mail_server.address,
        "SMTP_CA_FILE": str(mail_server.ca_file),
        "SMTP_TIMEOUT": "5",
        "DELIVERY_RETRY_DELAYS": "0.5,1,2",
        "SWEEP_INTERVAL": "2",
        "PYTHONUNBUFFERED": "1",
        **provider_settings,
    }
    web = Process(
        "gunicorn",
        [str(BIN / "gunicorn"), "--bind", f"127.0.0.1:{port}", "--workers", "1", "--threads", "8",
         "--access-logfile", "-", "--graceful-timeout", "2", "webapp:create_app()"],
        env,
        logs / "gunicorn.log",
    )  # fmt: skip
    worker = Process(
        "celery worker",
        [str(BIN / "celery"), "-A", "tasks", "worker", "--pool", "solo", "--loglevel", "INFO",
         "--without-gossip", "--without-mingle", "--hostname", f"browser-{port}@%h"],
        env,
        logs / "worker.log",
    )  # fmt: skip
    base = f"http://localhost:{port}"
    request.getfixturevalue("oauth_server").clients[CLIENT_ID].redirect_uris[:] = [
        f"{base}/mail/signed-in/google",
        f"{base}/mail/signed-in/microsoft",
    ]

    def healthy() -> bool:
        web.check_alive()
        worker.check_alive()
        with (
            contextlib.suppress(OSError),
            urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=2) as response,
        ):
            return response.status == 200 and " ready." in worker.output()
        return False

    try:
        wait_for(healthy, timeout=60, interval=0.1, what="gunicorn and the Celery worker to start")
        yield base
    finally:
        web.stop(signal.SIGQUIT)  # quick shutdown: do not wait for the browser's keep-alive connections
        worker.stop(signal.SIGQUIT)  # a cold shutdown: every letter of these tests is long delivered


@pytest.fixture(scope="package")
def browser(chromium_path):
    from playwright.sync_api import sync_playwright

    OUTPUT.mkdir(parents=True, exist_ok=True)
    for old in OUTPUT.glob("*.png"):  # only this run's pages
        old.unlink()
    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=chromium_path, headless=True, args=CHROMIUM_ARGS)
        yield chromium
        chromium.close()


@pytest.fixture
def new_page(browser, live_server):
    """`new_page(width=…, height=…, permissions=[…])`: a page in a fresh context (its own cookies) on the live server.

    Any Content-Security-Policy violation or script error on the page fails the test.
    """
    contexts, problems = [], []

    def factory(
        *,
        width: int = 1280,
        height: int = 900,
        permissions: list[str] | None = None,
        mobile: bool = False,
        ignore_https_errors: bool = False,
        locale: str | None = None,  # the browser's language, as Accept-Language and navigator.language
    ):
        context = browser.new_context(
            # The stand-in providers' certificates come from the suite's own CA, which Chromium doesn't know (the
            # app's own connections to them verify it).
            ignore_https_errors=ignore_https_errors,
            base_url=live_server,
            locale=locale,
            viewport={"width": width, "height": height},
            device_scale_factor=2 if mobile else 1,
            is_mobile=mobile,
            has_touch=mobile,
            accept_downloads=True,
        )
        if permissions:
            context.grant_permissions(permissions, origin=live_server)
        context.set_default_timeout(15_000)
        contexts.append(context)
        page = context.new_page()
        page.on("pageerror", lambda error: problems.append(f"script error: {error}"))
        page.on(
            "console",
            lambda message: (
                problems.append(f"console: {message.text}")
                if message.type == "error" and "Content Security Policy" in message.text
                else None
            ),
        )
        page.on("dialog", lambda dialog: dialog.accept())  # "are you sure?" confirmations
        return page

    yield factory
    for context in contexts:
        context.close()
    assert not problems, problems


def screenshot(page, name: str) -> Path:
    """Save the whole page under test-output/browser/ (gitignored)."""
    path = OUTPUT / f"{name}.png"
    page.evaluate("window.scrollTo(0, 0)")  # sticky parts of the page where a reader expects them
    page.screenshot(path=str(path), full_page=True)
    return path


# ---- the closing note: how long the group took, and where its screenshots are ----------------------------------

_TIMES: dict[str, float] = {}


def pytest_runtest_setup(item):
    if Path(__file__).parent in Path(str(item.fspath)).parents:
        _TIMES.setdefault("start", time.monotonic())


def pytest_runtest_teardown(item, nextitem):
    if Path(__file__).parent in Path(str(item.fspath)).parents:
        _TIMES["end"] = time.monotonic()


def pytest_terminal_summary(terminalreporter, exitstatus, config):
    if "start" not in _TIMES or not OUTPUT.is_dir():
        return
    shots = sorted(OUTPUT.glob("*.png"))
    terminalreporter.section("browser tests")
    terminalreporter.write_line(
        f"wall time {_TIMES.get('end', time.monotonic()) - _TIMES['start']:.1f}s (servers, Chromium and tests)"
    )
    for shot in shots:
        terminalreporter.write_line(f"screenshot {shot.relative_to(PROJECT)}")
