"""`make run` keeps supporters' mail passwords off the disk (issue 12.3) and its files private (issue 12.16): after
an own-email letter was delivered and `make run` stopped, no file under instance/ holds the password, any
ciphertext, or the key; the key lived only in the environment of the run's processes; every file is 0600."""

from __future__ import annotations

import os
import re
import signal
import stat

import psutil
import pytest

from tests.faults.test_make_run import SUPPORTER, make_run  # noqa: F401 - the fixture
from tests.support.letters import un_letter
from tests.support.waiting import wait_for

pytestmark = pytest.mark.faults

FERNET_TOKEN = re.compile(rb"gAAAAA[A-Za-z0-9_=-]{40,}")


def test_no_password_ciphertext_or_key_under_instance_and_every_file_private(make_run, mail_sink, report):  # noqa: F811
    wait_for(make_run.healthy, timeout=120, interval=0.5, what="make run to serve with a worker")
    assert "credentials: a Redis that keeps nothing on disk" in make_run.output()
    password = mail_sink.smtp_settings()["password"]
    status, created = make_run.post("/api/v1/submissions", un_letter(SUPPORTER, "smtp", smtp=mail_sink.smtp_settings()))
    assert status == 202, created

    def sent() -> bool:
        _status, view = make_run.get(f"/api/v1/submissions/{created['id']}")
        return view["done"] and [letter["status"] for letter in view["letters"]] == ["sent"]

    wait_for(sent, timeout=60, interval=0.3, what="the letter to be delivered")
    (web,) = make_run.pids("web")
    key = psutil.Process(web).environ()["CREDENTIALS_KEY"]  # where the key lives: the processes' environment
    assert len(key) >= 32

    os.killpg(make_run.process.pid, signal.SIGINT)
    assert make_run.process.wait(timeout=60) == 0, make_run.output()[-2000:]

    files = [path for path in make_run.instance.rglob("*") if path.is_file()]
    assert any(path.name.startswith("appendonly") for path in files), "the embedded Redis's append-only file"
    on_disk = {path: path.read_bytes() for path in files}
    for path, data in on_disk.items():
        assert password.encode() not in data, f"the password is in {path}"
        assert key.encode() not in data, f"the credentials key is in {path}"
        assert not FERNET_TOKEN.search(data), f"a ciphertext is in {path}"
    loose = [
        (str(path), oct(stat.S_IMODE(path.stat().st_mode)))
        for path in [make_run.instance, *make_run.instance.rglob("*")]
        if stat.S_IMODE(path.stat().st_mode) & 0o077
    ]
    assert loose == [], f"readable by others: {loose}"
    report(f"{len(files)} files under instance/ ({sum(map(len, on_disk.values()))} bytes): no password, "
           "no ciphertext, no key; all private")  # fmt: skip
