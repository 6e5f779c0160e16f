"""Stage 3, totals at scale: GET /api/v1/campaigns/<slug>/totals latency after 1,000 and after 1,000,000 letters."""

from __future__ import annotations

import time
from dataclasses import dataclass

from bench import datagen
from bench.harness import (
    LAUNCH_CAMPAIGN,
    BenchError,
    child_env,
    http_json,
    prepare,
    stage,
    start_gunicorn,
)
from bench.loadgen import request_bytes, run_load

TARGET_RATIO = 1.5
TARGET_P50_MS = 20.0


@dataclass
class TotalsOptions:
    small: int = 1_000
    large: int = 1_000_000
    seconds: float = 4.0  # sequential requests per size, after a short warm-up
    keep: bool = False


def _measure(port: int, seconds: float) -> dict:
    path = f"/api/v1/campaigns/{LAUNCH_CAMPAIGN}/totals"
    raw = request_bytes("GET", "127.0.0.1", port, path)
    sizes = []
    result = run_load(
        "127.0.0.1", port, lambda _i: raw, concurrency=1, duration=seconds, warmup=0.5,
        on_response=lambda _i, _s, body: sizes.append(len(body)) if not sizes else None,
    )  # fmt: skip
    return {**result.summary(), "response_bytes": sizes[0] if sizes else None}


def _answer_is_the_generated_counts(port: int, check: dict) -> None:
    """Before anything is timed: the endpoint answers the counts of the letters generated (a fast answer of
    zeros once passed for a result here)."""
    answer = http_json("127.0.0.1", port, f"/api/v1/campaigns/{LAUNCH_CAMPAIGN}/totals")
    counted = ("sent", "handed_off", "failed", "confirmed")
    answered = {name: answer["totals"].get(name) for name in counted}
    expected = {name: check["from_letters"].get(name, 0) for name in counted}
    if answered != expected or not check["agree"]:
        raise BenchError(f"the totals endpoint answers {answered}, the generated letters count {expected}")


def run(options: TotalsOptions, say=print) -> dict:
    out: dict = {"database": None, "target_ratio": TARGET_RATIO, "target_p50_ms": TARGET_P50_MS}
    with stage("totals", keep=options.keep) as bench:
        processes, database, redis_url = bench.processes, bench.database, bench.redis_url
        out["database"] = database.kind
        app = prepare(database, redis_url, congress=True)
        _web, port = start_gunicorn(processes, "gunicorn", child_env(database, redis_url))
        made = 0
        for label, size in (("small", options.small), ("large", options.large)):
            say(f"  totals: generating letters up to {size:,} …")
            started = time.perf_counter()
            batch = datagen.generate(app, size - made, LAUNCH_CAMPAIGN, seed=2026 + made)
            generated = time.perf_counter() - started
            made = size
            check = datagen.consistency(app, LAUNCH_CAMPAIGN)
            _answer_is_the_generated_counts(port, check)
            say(f"  totals: GET totals at {check['letters']:,} letters ({check['tally_rows']:,} tally rows) …")
            out[label] = {
                "letters": check["letters"],
                "tally_rows": check["tally_rows"],
                "targets_written_to": len(batch.targets),
                "generate_s": round(generated, 1),
                "counts_agree": check["agree"],
                "counts": check["from_tallies"],
                **_measure(port, options.seconds),
            }
    small, large = out["small"]["p50_ms"], out["large"]["p50_ms"]
    out["ratio"] = round(large / small, 2) if small and large else None
    return out
