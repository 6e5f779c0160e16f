"""Transactions are committed at the edges: services write and flush, and the views, the APIs and the commands
that call them commit, so what one request or command changes lands together or not at all."""

from __future__ import annotations

import ast
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
EDGE_MODULES = {"views.py", "api.py", "cli.py"}  # and every module of a views/ package
EDGE_FILES = {"webapp/devserver.py", "webapp/letters/refused.py"}


def is_edge(path: Path) -> bool:
    name = path.relative_to(PROJECT).as_posix()
    return path.name in EDGE_MODULES or "views" in path.parent.parts or name in EDGE_FILES


def commits_in(source: str) -> int:
    """Calls that end a transaction by committing it, however the session is spelled (`db.session.commit()`, a
    session of its own, a connection's `begin()` block)."""
    return sum(
        isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr in ("commit", "begin")
        for node in ast.walk(ast.parse(source))
    )


def test_services_leave_the_commit_to_their_callers():
    commits = {}
    for path in sorted((PROJECT / "webapp").rglob("*.py")):
        count = commits_in(path.read_text(encoding="utf-8"))
        if count and not is_edge(path):
            commits[path.relative_to(PROJECT).as_posix()] = count
    assert commits == SERVICES_THAT_COMMIT


def test_a_commit_is_found_however_it_is_spelled():
    assert commits_in("db.session.commit()") == 1
    assert commits_in("session = db.session\nsession.commit()") == 1
    assert commits_in("with Session(db.engine) as s:\n    s.add(x)\n    s.commit()") == 1
    assert commits_in("with db.engine.begin() as connection:\n    connection.execute(statement)") == 1
    assert commits_in("db.session.flush()\n# db.session.commit() in a comment") == 0
    assert not is_edge(PROJECT / "webapp/letters/previews.py")  # a name with "views" in it is not a view
