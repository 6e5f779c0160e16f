"""Stage 7, delivery under real-world latency: a sink that answers like a real provider, hostile servers in flight,
and the candidate ways for one worker to hold many conversations, measured side by side.

For each candidate worker (Celery's threads pool with 200 threads, as shipped; gevent with 200 greenlets;
prefork with 2 and 4 processes, the old `make run` and compose settings) the stage sends submissions of one
letter through the API to a sink that waits like a provider (greeting 100–300 ms, each reply 20–80 ms,
accepting a message 300–1,000 ms, drawn per conversation) and reports letters/s from the first submission
to the last `sent`, and p50/p99 of submit→sent. For the many-conversation candidates it then starts 20
hostile conversations (a trickling greeting, a flooding greeting, a server that never answers DATA, in turn),
and while they hold their threads sends the same number of letters again: p50/p99 with them in flight. The
shipped worker is also measured against the zero-latency sink: the latency-hidden throughput must be at
least half of that, the p99 with hostile servers at most 1.5 × the p99 without, and the worker's RSS at most
200 MB.
"""

from __future__ import annotations

import datetime as dt
import statistics
import time
from dataclasses import dataclass

from bench.harness import (
    BenchError,
    Database,
    Processes,
    child_env,
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
from bench.payloads import submission_requests

HOSTILE = 20
TARGET_THROUGHPUT_RATIO = 0.5
TARGET_P99_RATIO = 1.5
TARGET_RSS_MB = 200


@dataclass
class LatencyOptions:
    letters: int = 1000  # per measurement, for the many-conversation candidates
    clients: int = 64
    candidates: tuple[str, ...] = ("threads", "gevent", "prefork-2", "prefork-4")
    timeout: float = 600.0
    keep: bool = False


# name → (Celery pool, concurrency, letters per measurement as a share of --letters)
CANDIDATES = {
    "threads": ("threads", 200, 1.0),
    "gevent": ("gevent", 200, 1.0),
    # A process per conversation: ~2 letters/s per process against this sink, so a small sample.
    "prefork-2": ("prefork", 2, 0.04),
    "prefork-4": ("prefork", 4, 0.08),
}


def _engine(database: Database):
    from sqlalchemy import create_engine, event

    from webapp.config import sqlalchemy_url
    from webapp.extensions import sqlite_pragmas

    engine = create_engine(sqlalchemy_url(database.url))
    event.listen(engine, "connect", sqlite_pragmas)  # as the app's own engine: WAL, a busy timeout
    return engine


def _outcome(engine, port: int, since: dt.datetime) -> list[tuple[str, dt.datetime, dt.datetime | None]]:
    """(status, created_at, finished_at) of the letters sent through the sink on `port` since `since`."""
    from sqlalchemy import select

    from webapp.models import Letter, Submission

    with engine.connect() as connection:
        return list(
            connection.execute(
                select(Letter.status, Letter.created_at, Letter.finished_at)
                .join(Submission, Submission.id == Letter.submission_id)
                .where(Submission.smtp_port == port, Letter.created_at >= since)
            ).all()
        )


def _percentile(values: list[float], share: float) -> float | None:
    if not values:
        return None
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(share * len(ordered)))]


def _batch(engine, web_port: int, sink_port: int, letters: int, clients: int, timeout: float) -> dict:
    """Submit `letters` letters to the sink on `sink_port`, wait until all are finished, and measure."""
    since = dt.datetime.now(dt.UTC).replace(tzinfo=None) - dt.timedelta(seconds=1)
    intake = run_load(
        "127.0.0.1", web_port, submission_requests(web_port, "smtp", sink_port),
        concurrency=min(clients, letters), total=letters, expect=(202,),
    )  # fmt: skip

    def finished():
        rows = _outcome(engine, sink_port, since)
        return rows if len(rows) >= intake.requests and all(status != "queued" and status != "sending"
                                                             for status, _c, _f in rows) else None  # fmt: skip

    rows = wait_for(finished, f"{intake.requests} letters to finish", timeout, interval=0.25)
    sent = [(created, done) for status, created, done in rows if status == "sent"]
    waits = [(done - created).total_seconds() for created, done in sent]
    last = max(done for _created, done in sent) if sent else None
    seconds = last.replace(tzinfo=dt.UTC).timestamp() - intake.first_sent if last else None
    return {
        "letters": letters,
        "accepted": intake.requests,
        "intake_errors": intake.errors,
        "sent": len(sent),
        "failed": sum(1 for status, _c, _f in rows if status == "failed"),
        "seconds": round(seconds, 2) if seconds else None,
        "letters_per_s": round(len(sent) / seconds, 1) if seconds else None,
        "p50_s": round(statistics.median(waits), 3) if waits else None,
        "p99_s": round(_percentile(waits, 0.99), 3) if waits else None,
    }


def _hostile(web_port: int, ports: list[int]) -> int:
    """One submission to each hostile server; returns how many were accepted."""
    accepted = 0
    for port in ports:
        result = run_load(
            "127.0.0.1", web_port, submission_requests(web_port, "smtp", port), concurrency=1, total=1, expect=(202,)
        )
        accepted += result.requests
    return accepted


def _rss_mb(root: int) -> float | None:
    peaks = [peak_rss(pid) for pid in process_tree(root)]
    peaks = [peak for peak in peaks if peak]
    return round(max(peaks) / 2**20, 1) if peaks else None


def _clear_outbox(engine, redis_url: str) -> None:
    """Between candidates: no letter left waiting, no task left queued, so the next one starts clean."""
    import redis
    from sqlalchemy import update

    from webapp.models import FAILED, PENDING, Letter

    with engine.begin() as connection:
        connection.execute(update(Letter).where(Letter.status.in_(PENDING)).values(status=FAILED))
    redis.Redis.from_url(redis_url).flushdb()


def run(options: LatencyOptions, say=print) -> dict:
    out: dict = {
        "hostile_servers": HOSTILE,
        "targets": {
            "throughput_ratio": TARGET_THROUGHPUT_RATIO,
            "p99_ratio": TARGET_P99_RATIO,
            "rss_mb": TARGET_RSS_MB,
        },
        "candidates": {},
    }
    with stage("latency", keep=options.keep) as bench:
        processes: Processes = bench.processes
        prepare(bench.database, bench.redis_url)
        instant, instant_port, ca_file = start_sink(processes, "instant-sink")
        provider, provider_port, _ca = start_sink(processes, "provider-sink", latency=True, hostile=HOSTILE)
        provider_ca = processes.workdir / "provider-sink" / "ca.pem"
        ca_bundle = processes.workdir / "ca-bundle.pem"
        ca_bundle.write_text(ca_file.read_text() + provider_ca.read_text())
        allowed = ",".join(f"localhost:{port}" for port in (instant_port, provider_port, *provider.hostile_ports))
        env = child_env(bench.database, bench.redis_url, SMTP_ALLOWED_HOSTS=allowed, SMTP_CA_FILE=str(ca_bundle))
        _web, web_port = start_gunicorn(processes, "gunicorn", env)
        engine = _engine(bench.database)
        try:
            for name in options.candidates:
                pool, concurrency, share = CANDIDATES[name]
                letters = max(20, int(options.letters * share))
                celery = start_celery(processes, env, pool=pool, concurrency=concurrency, name=f"celery-{name}")
                wait_for(
                    lambda: (http_json("127.0.0.1", web_port, "/healthz") or {}).get("worker") == "ok",
                    f"the {name} worker's heartbeat",
                    90,
                    celery,
                )
                result: dict = {"pool": pool, "concurrency": concurrency}
                try:
                    if name == "threads":
                        say(f"  latency: {name}: {letters:,} letters to the zero-latency sink …")
                        result["zero_latency"] = _batch(
                            engine, web_port, instant_port, letters, options.clients, options.timeout
                        )
                    say(f"  latency: {name}: {letters:,} letters to the provider-paced sink …")
                    result["latency"] = _batch(
                        engine, web_port, provider_port, letters, options.clients, options.timeout
                    )
                    if concurrency > HOSTILE:
                        say(f"  latency: {name}: again, with {HOSTILE} hostile conversations in flight …")
                        result["hostile_accepted"] = _hostile(web_port, provider.hostile_ports)
                        time.sleep(2.0)  # let them connect and take their threads
                        result["with_hostile"] = _batch(
                            engine, web_port, provider_port, letters, options.clients, options.timeout
                        )
                except BenchError as exc:
                    result["error"] = str(exc).splitlines()[0]
                    say(f"  latency: {name}: {result['error']}")
                result["peak_rss_mb"] = _rss_mb(celery.pid)
                processes.stop(celery, timeout=5)
                _clear_outbox(engine, bench.redis_url)
                out["candidates"][name] = result
        finally:
            engine.dispose()
    shipped = out["candidates"].get("threads", {})
    zero = (shipped.get("zero_latency") or {}).get("letters_per_s")
    hidden = (shipped.get("latency") or {}).get("letters_per_s")
    calm = (shipped.get("latency") or {}).get("p99_s")
    stormy = (shipped.get("with_hostile") or {}).get("p99_s")
    out["throughput_ratio"] = round(hidden / zero, 3) if hidden and zero else None
    out["p99_ratio"] = round(stormy / calm, 3) if stormy and calm else None
    out["shipped_rss_mb"] = shipped.get("peak_rss_mb")
    return out
