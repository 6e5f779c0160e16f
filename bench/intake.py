"""Stage 2, intake: API submissions/s (mailto, smtp) under gunicorn against a bare Flask endpoint on the same settings."""

from __future__ import annotations

from dataclasses import dataclass

from bench.harness import (
    GUNICORN_THREADS,
    GUNICORN_WORKERS,
    child_env,
    cpu_seconds,
    free_port,
    prepare,
    stage,
    start_gunicorn,
)
from bench.loadgen import run_load
from bench.payloads import submission_requests

TARGET_RATIO = 0.33


@dataclass
class IntakeOptions:
    clients: int = 64
    seconds: float = 8.0
    warmup: float = 2.0
    keep: bool = False


def run(options: IntakeOptions, say=print) -> dict:
    with stage("intake", keep=options.keep) as bench:
        processes, database, redis_url = bench.processes, bench.database, bench.redis_url
        prepare(database, redis_url)
        # The SSRF check resolves this allowed host at intake; nothing connects to it (no worker runs here).
        smtp_port = free_port()
        env = child_env(database, redis_url, SMTP_ALLOWED_HOSTS=f"localhost:{smtp_port}")
        load = dict(concurrency=options.clients, duration=options.seconds, warmup=options.warmup, expect=(202,))

        bare, port = start_gunicorn(processes, "gunicorn-bare", env, app="bench.bare_app:create_app()")
        say(f"  intake: bare Flask endpoint, {options.clients} clients, {options.seconds:.0f}s …")
        cpu = cpu_seconds(bare.pid)
        baseline = run_load("127.0.0.1", port, submission_requests(port, "mailto"), **load)
        server_cpu = {"baseline": (cpu_seconds(bare.pid) - cpu) / max(1, baseline.answered)}
        processes.stop(bare)

        web, port = start_gunicorn(processes, "gunicorn-app", env)
        results = {}
        for channel in ("mailto", "smtp"):
            say(f"  intake: POST /api/v1/submissions channel={channel} …")
            cpu = cpu_seconds(web.pid)
            results[channel] = run_load("127.0.0.1", port, submission_requests(port, channel, smtp_port), **load)
            server_cpu[channel] = (cpu_seconds(web.pid) - cpu) / max(1, results[channel].answered)

    out = {
        "gunicorn": {"workers": GUNICORN_WORKERS, "threads": GUNICORN_THREADS, "worker_class": "gthread"},
        "clients": options.clients,
        "seconds": options.seconds,
        # CPU the gunicorn workers spent per answered request: steadier than requests/s on a busy machine.
        "baseline": {**baseline.summary(), "server_cpu_ms_per_request": round(server_cpu["baseline"] * 1000, 3)},
        "target_ratio": TARGET_RATIO,
    }
    for channel, result in results.items():
        ratio = result.rate / baseline.rate if baseline.rate else None
        cpu_ratio = server_cpu["baseline"] / server_cpu[channel] if server_cpu[channel] else None
        out[channel] = {
            **result.summary(),
            "ratio": round(ratio, 3) if ratio is not None else None,
            "server_cpu_ms_per_request": round(server_cpu[channel] * 1000, 3),
            "cpu_ratio": round(cpu_ratio, 3) if cpu_ratio is not None else None,  # baseline CPU / app CPU
        }
    return out
