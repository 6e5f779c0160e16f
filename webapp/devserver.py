"""`make run`: embedded Redis, migrations, campaigns, one Celery worker with the sweeper, and gunicorn; Ctrl-C stops all."""

from __future__ import annotations

import os
import secrets
import signal
import subprocess
import sys
import time
from pathlib import Path

from webapp import embedded_redis
from webapp.config import PROJECT_DIR

INSTANCE = PROJECT_DIR / "instance"


def _secret_key() -> str:
    """A stable key for this checkout, kept in instance/ (never committed), unless SECRET_KEY is set."""
    if os.environ.get("SECRET_KEY"):
        return os.environ["SECRET_KEY"]
    path = INSTANCE / "secret_key"
    if not path.exists():
        path.write_text(secrets.token_urlsafe(48))
        path.chmod(0o600)
    return path.read_text().strip()


def _prepare() -> None:
    """Migrate the database and load the campaigns (both idempotent)."""
    from flask_migrate import upgrade

    from webapp import create_app
    from webapp.campaigns.service import load_campaigns
    from webapp.congress.service import ensure_loaded

    app = create_app()
    with app.app_context():
        upgrade()
        if ensure_loaded():
            print("  congress: loaded the bundled members of Congress and ZIP codes")
        report = load_campaigns(Path(app.config["LETTER_TEMPLATES_DIR"]))
        for line in report.lines:
            print(f"  campaigns: {line}")
        from webapp.extensions import db

        db.engine.dispose()


def main() -> int:
    INSTANCE.mkdir(exist_ok=True)
    port = os.environ.get("PORT", "5000")
    os.environ["SECRET_KEY"] = _secret_key()
    bin_dir = Path(sys.executable).parent
    started_redis = False
    if not os.environ.get("REDIS_URL"):
        os.environ["REDIS_URL"] = embedded_redis.url_for(str(INSTANCE))
        started_redis = True
        print(f"  redis: embedded (appendonly, data in {INSTANCE / 'redis'})")
    print("  preparing the database (migrations, Congress data, campaigns)…", flush=True)
    _prepare()
    children = [
        subprocess.Popen(
            [
                str(bin_dir / "celery"),
                "-A",
                "tasks",
                "worker",
                "--beat",
                "--concurrency",
                "2",
                "--loglevel",
                "INFO",
                "--schedule",
                str(INSTANCE / "celerybeat-schedule"),
            ],
            cwd=PROJECT_DIR,
        ),
        subprocess.Popen(
            [
                str(bin_dir / "gunicorn"),
                "webapp:create_app()",
                "--bind",
                f"127.0.0.1:{port}",
                "--workers",
                "2",
                "--threads",
                "4",
                "--access-logfile",
                "-",
                # No client address in the log: Outcry never stores one (README, "Privacy by default").
                "--access-logformat",
                '%(t)s "%(m)s %(U)s" %(s)s %(b)s %(M)sms',
            ],
            cwd=PROJECT_DIR,
        ),
    ]
    print(f"\n  Outcry is running: open http://127.0.0.1:{port}\n  Press Ctrl-C to stop.\n", flush=True)

    stopping = False

    def stop(signum, _frame) -> None:
        nonlocal stopping
        stopping = True

    signal.signal(signal.SIGINT, stop)
    signal.signal(signal.SIGTERM, stop)
    exit_code = 0
    try:
        while not stopping:
            for child in children:
                if child.poll() is not None:
                    print(f"  {child.args[0]} exited with {child.returncode}; stopping.", flush=True)
                    exit_code = child.returncode or 1
                    stopping = True
            time.sleep(0.5)
    finally:
        for child in children:
            if child.poll() is None:
                child.send_signal(signal.SIGTERM)
        deadline = time.monotonic() + 15
        for child in children:
            try:
                child.wait(timeout=max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                child.kill()
        if started_redis:
            embedded_redis.stop(str(INSTANCE))
        print("  Stopped.", flush=True)
    return exit_code


if __name__ == "__main__":
    sys.exit(main())
