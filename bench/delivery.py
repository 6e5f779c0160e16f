"""Stage 1, delivery (and stage 5, memory): letters/s through web → Redis → Celery → SMTP sink, against a bare smtplib loop.

Both runs send to the same aiosmtpd sink (own process, STARTTLS required, AUTH) with the same number of
sending processes. The app's rate runs from the first submission written to the wire to the last
letter's `finished_at` with status `sent`; the baseline's from the moment all its processes are told to go
to the last one finishing.
"""

from __future__ import annotations

import datetime as dt
import json
import sys
import time
from dataclasses import dataclass

from bench.harness import (
    LAUNCH_CAMPAIGN,
    WORKER_CONCURRENCY,
    WORKER_POOL,
    BenchError,
    Database,
    Processes,
    child_env,
    cpu_seconds,
    http_json,
    peak_rss,
    prepare,
    process_tree,
    stage,
    start_celery,
    start_gunicorn,
    start_sink,
    wait_for,
)
from bench.loadgen import run_load
from bench.payloads import TARGET, TEMPLATE, submission_requests

TARGET_RATIO = 0.5
MEMORY_TARGET_MB = 150


@dataclass
class DeliveryOptions:
    letters: int = 2000
    workers: int = 2  # Celery prefork processes, and baseline smtplib processes
    clients: int = 64
    timeout: float = 300.0  # give up waiting for the last letter after this long
    keep: bool = False


def _messages(app, count: int) -> list[dict]:
    """`count` copies of the launch letter as the app would build them, each with its own Message-ID."""
    from webapp.campaigns.service import active_templates, find_campaign
    from webapp.delivery.smtp import OutgoingLetter, build_message
    from webapp.extensions import db
    from webapp.letters.drafting import Supporter, draft_letters
    from webapp.models import Target

    with app.app_context():
        campaign = find_campaign(LAUNCH_CAMPAIGN)
        template = next(t for t in active_templates(campaign) if t.slug == TEMPLATE)
        target = db.session.get(Target, TARGET)
        supporter = Supporter(
            "Bench Supporter", "supporter@example.org", "94110", "1 Valencia St\nSan Francisco, CA 94110",
            "I am a parent, and I cannot imagine my children being taken from me at a border.",
        )  # fmt: skip
        draft = draft_letters(campaign, template, [target], supporter)[0]
        recipient, name = target.email, target.name
        db.session.remove()
        db.engine.dispose()
    messages = []
    for index in range(count):
        letter = OutgoingLetter(
            letter_id=f"{index:032x}",
            sender_name=f"Bench Supporter {index}",
            sender_email=f"supporter{index}@example.org",
            recipient=recipient,
            recipient_name=name,
            subject=draft.subject,
            body=draft.body,
        )
        messages.append({"from": letter.sender_email, "to": recipient, "data": build_message(letter).decode()})
    return messages


def _baseline(processes: Processes, sink_port: int, ca_file, messages: list[dict], workers: int, sink_pid: int) -> dict:
    path = processes.workdir / "messages.json"
    path.write_text(json.dumps(messages))
    share, extra = divmod(len(messages), workers)
    loops, start = [], 0
    for number in range(workers):
        count = share + (1 if number < extra else 0)
        loops.append(
            processes.start(
                f"smtp-loop-{number}",
                [
                    sys.executable,
                    "-m",
                    "bench.smtp_loop",
                    "--port",
                    str(sink_port),
                    "--ca",
                    str(ca_file),
                    "--messages",
                    str(path),
                    "--start",
                    str(start),
                    "--count",
                    str(count),
                ],
                talk=True,
            )  # fmt: skip
        )
        start += count
    for loop in loops:
        if loop.read_line(60) != "ready":
            raise BenchError(f"{loop.name} did not get ready:\n{loop.tail()}")
    go, sink_cpu = time.time(), cpu_seconds(sink_pid)
    for loop in loops:
        loop.say("go")
    reports = [json.loads(loop.read_line(600)) for loop in loops]
    sink_cpu = cpu_seconds(sink_pid) - sink_cpu
    for loop in loops:
        processes.stop(loop)
    finished = max(report["finished"] for report in reports)
    sent = sum(report["sent"] for report in reports)
    errors = sum(report["errors"] for report in reports)
    seconds = finished - go
    return {
        "processes": workers,
        "messages": len(messages),
        "sent": sent,
        "errors": errors,
        "seconds": round(seconds, 3),
        "letters_per_s": round(sent / seconds, 1) if seconds > 0 else None,
        "client_cpu_ms_per_letter": round(1000 * sum(r["cpu"] for r in reports) / max(1, sent), 2),
        "sink_cpu_ms_per_letter": round(1000 * sink_cpu / max(1, sent), 2),
    }


def _progress(database: Database):
    """A function returning (sent, failed, other terminal, last sent finished_at) from the database."""
    from sqlalchemy import create_engine, event, func, select

    from webapp.config import sqlalchemy_url
    from webapp.extensions import sqlite_pragmas
    from webapp.models import FAILED, HANDED_OFF, SENT, Letter

    engine = create_engine(sqlalchemy_url(database.url))
    event.listen(engine, "connect", sqlite_pragmas)  # as the app's own engine: WAL, a busy timeout

    def check() -> tuple[int, int, int, dt.datetime | None]:
        with engine.connect() as connection:
            rows = connection.execute(
                select(Letter.status, func.count(), func.max(Letter.finished_at))
                .where(Letter.status.in_((SENT, FAILED, HANDED_OFF)))
                .group_by(Letter.status)
            ).all()
        by_status = {status: (count, last) for status, count, last in rows}
        sent, last = by_status.get(SENT, (0, None))
        return sent, by_status.get(FAILED, (0, None))[0], by_status.get(HANDED_OFF, (0, None))[0], last

    return check, engine


def _memory(gunicorn_pid: int, celery_pid: int) -> dict:
    """Peak RSS (VmHWM) of every gunicorn and Celery process, in MiB; `worker` is the largest child."""
    mib = 1024 * 1024
    out = {}
    for name, root in (("gunicorn", gunicorn_pid), ("celery", celery_pid)):
        pids = list(process_tree(root))
        peaks = {pid: peak_rss(pid) for pid in pids}
        children = [peak for pid, peak in peaks.items() if pid != root and peak]
        out[name] = {
            "master_peak_mb": round((peaks.get(root) or 0) / mib, 1),
            "worker_peak_mb": round(max(children) / mib, 1) if children else None,
            "workers_peak_mb": [round(peak / mib, 1) for peak in children],
            "target_mb": MEMORY_TARGET_MB,
        }
    return out


def run(options: DeliveryOptions, say=print) -> dict:
    with stage("delivery", keep=options.keep) as bench:
        processes, database, redis_url = bench.processes, bench.database, bench.redis_url
        app = prepare(database, redis_url)
        sink, sink_port, ca_file = start_sink(processes)

        say(f"  delivery: baseline, {options.workers} smtplib processes, {options.letters:,} messages …")
        baseline = _baseline(processes, sink_port, ca_file, _messages(app, options.letters), options.workers, sink.pid)

        env = child_env(database, redis_url, SMTP_ALLOWED_HOSTS=f"localhost:{sink_port}", SMTP_CA_FILE=str(ca_file))
        web, port = start_gunicorn(processes, "gunicorn", env)
        celery = start_celery(processes, env)  # as make run and compose run it: threads, 200
        wait_for(
            lambda: (http_json("127.0.0.1", port, "/healthz") or {}).get("worker") == "ok",
            "the Celery worker's heartbeat",
            60,
            celery,
        )
        check, engine = _progress(database)
        cpu_before = {
            name: cpu_seconds(pid) for name, pid in (("web", web.pid), ("worker", celery.pid), ("sink", sink.pid))
        }
        cpu_before["worker_main"] = cpu_seconds(celery.pid, tree=False)
        redis_pid = next(child.pid for child in processes.children if child.name == "redis")
        cpu_before["redis"] = cpu_seconds(redis_pid)
        say(f"  delivery: app, {options.letters:,} submissions from {options.clients} clients, "
            f"one Celery worker ({WORKER_POOL} pool, {WORKER_CONCURRENCY}) …")  # fmt: skip
        intake = run_load(
            "127.0.0.1", port, submission_requests(port, "smtp", sink_port),
            concurrency=options.clients, total=options.letters, expect=(202,),
        )  # fmt: skip
        accepted = intake.requests
        try:
            wait_for(
                lambda: sum(check()[:3]) >= accepted,
                f"{accepted:,} letters to finish",
                options.timeout,
                celery,
                0.25,
            )
        except BenchError as exc:
            say(f"  delivery: {exc}".splitlines()[0])
        sent, failed, other, last = check()
        engine.dispose()
        cpu = {
            name: cpu_seconds(pid) - cpu_before[name]
            for name, pid in (("web", web.pid), ("worker", celery.pid), ("sink", sink.pid))
        }
        cpu["worker_main"] = cpu_seconds(celery.pid, tree=False) - cpu_before["worker_main"]
        cpu["redis"] = cpu_seconds(redis_pid) - cpu_before["redis"]
        memory = _memory(web.pid, celery.pid)
        processes.stop(web)
        processes.stop(celery)
        processes.stop(sink)
        received = None
        try:
            line = sink.popen.stdout.read().strip().splitlines()
            received = int(line[-1].split()[1]) if line and line[-1].startswith("RECEIVED") else None
        except (OSError, ValueError):
            pass

    first = intake.first_sent
    seconds = (last.replace(tzinfo=dt.UTC).timestamp() - first) if last else None
    rate = sent / seconds if seconds else None
    ratio = rate / baseline["letters_per_s"] if rate and baseline["letters_per_s"] else None
    app_result = {
        "submissions": options.letters,
        "accepted": accepted,
        "intake_errors": intake.errors,
        "intake_error_samples": intake.samples[:3],
        "intake_seconds": round(intake.last_done - first, 3),
        "celery_processes": 1,
        "celery_pool": f"{WORKER_POOL} {WORKER_CONCURRENCY}",
        "sent": sent,
        "failed": failed,
        "seconds_first_submit_to_last_sent": round(seconds, 3) if seconds else None,
        "letters_per_s": round(rate, 1) if rate else None,
        # CPU per letter (steadier than letters/s on a busy machine): gunicorn, Celery (all processes), sink.
        "web_cpu_ms_per_letter": round(1000 * cpu["web"] / max(1, sent), 2),
        "worker_cpu_ms_per_letter": round(1000 * cpu["worker"] / max(1, sent), 2),
        # Of which the Celery main process (broker traffic, acks, handing tasks to the pool).
        "worker_main_cpu_ms_per_letter": round(1000 * cpu["worker_main"] / max(1, sent), 2),
        "sink_cpu_ms_per_letter": round(1000 * cpu["sink"] / max(1, sent), 2),
        # The rest of the machine's work per letter: the broker and the HTTP load generator (this process).
        "redis_cpu_ms_per_letter": round(1000 * cpu["redis"] / max(1, sent), 2),
        "generator_cpu_ms_per_letter": round(1000 * intake.cpu_seconds / max(1, sent), 2),
    }
    return {
        "letters": options.letters,
        "letters_per_submission": 1,
        "baseline": baseline,
        "app": app_result,
        "ratio": round(ratio, 3) if ratio else None,
        "target_ratio": TARGET_RATIO,
        "sink_received": received,
        "memory": memory,
    }
