"""Transactions are committed at the edges: services write and flush, and the views, the APIs and the commands
that call them commit, so what one request or command changes lands together or not at all."""

from __future__ import annotations

from pathlib import Path

PROJECT = Path(__file__).resolve().parent.parent


# Where a module that is not an edge (a view, an API module, a command) still commits, and why: each is also said
# beside the commit. Every other service flushes and leaves the commit to its caller (README, "How it works").
SERVICES_THAT_COMMIT = {
    "webapp/outbox.py": 7,  # the state machine: each status change committed with its count
    "webapp/congress/links.py": 2,  # before this process's lookup cache is cleared
    "webapp/congress/load.py": 1,  # likewise, after a load
    "webapp/organizers/accounts.py": 2,  # a log-in's or token's last use, before the view runs
    "webapp/privacy/service.py": 2,  # erasures durable before the WAL checkpoint, batch by batch
    "webapp/health/service.py": 1,  # ends a read
    "webapp/delivery/service.py": 1,  # ends a read
}
EDGES = ("views", "/api.py", "/cli.py", "webapp/devserver.py", "webapp/letters/refused.py")


def test_services_leave_the_commit_to_their_callers():
    commits = {}
    for path in sorted((PROJECT / "webapp").rglob("*.py")):
        name = path.relative_to(PROJECT).as_posix()
        count = path.read_text(encoding="utf-8").count("db.session.commit()")
        if count and not any(edge in name for edge in EDGES):
            commits[name] = count
    assert commits == SERVICES_THAT_COMMIT
