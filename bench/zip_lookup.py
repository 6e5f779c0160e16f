"""ZIP → members-of-Congress lookups per second: the in-process cache versus querying the database each time.

Run from the project folder: `.venv/bin/python -m bench.zip_lookup [--seconds 2] [--db-lookups 2000]`;
`make bench` calls `measure()` as its ZIP stage.
Builds a fresh SQLite database under /tmp, migrates it, loads the bundled Congress data, then measures.
"""

from __future__ import annotations

import argparse
import gc
import json
import random
import secrets
import shutil
import tempfile
import time
import tracemalloc
from collections.abc import Callable, Sequence
from pathlib import Path

from flask_migrate import upgrade

from webapp import create_app
from webapp.congress import load as congress_load
from webapp.congress import service
from webapp.extensions import db

RESULTS = Path(__file__).with_name("results.json")
TARGET_PER_SECOND = 50_000
# The sample ZIPs, always in the mix: plain, split, DC, PR, supplement, PO box, two states, vacant.
SAMPLES = ("94110", "10001", "78701", "59001", "20001", "00601", "96910", "10008", "30165", "94541")


def rss_bytes() -> int | None:
    """Resident set size from /proc (Linux); None elsewhere."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
    except OSError:
        return None
    return None


def zip_mix(size: int, seed: int) -> list[str]:
    """Real ZIPs from the bundled files, shuffled: ZCTA and supplement ZIPs in their natural proportion."""
    zips = sorted(service.get_cache().snapshot().zips)
    rng = random.Random(seed)
    mix = [*SAMPLES, *rng.sample(zips, min(size, len(zips)) - len(SAMPLES))]
    rng.shuffle(mix)
    return mix


def rate(
    function: Callable[[str], object], mix: Sequence[str], *, seconds: float, limit: int | None = None
) -> tuple[int, float]:
    """Call `function` over the mix (repeating it) for about `seconds`, or `limit` calls; (calls, elapsed)."""
    calls, started = 0, time.perf_counter()
    while True:
        for zip_code in mix:
            function(zip_code)
            calls += 1
            if limit is not None and calls >= limit:
                return calls, time.perf_counter() - started
        elapsed = time.perf_counter() - started
        if limit is None and elapsed >= seconds:
            return calls, elapsed


def uncached(zip_code: str) -> None:
    """What a lookup costs without the cache: queries, then a new session, as each request would have."""
    service.lookup_from_database(zip_code)
    db.session.remove()


def measure(
    *,
    seconds: float = 2.0,
    db_lookups: int = 2000,
    api_requests: int = 2000,
    zips: int = 5000,
    seed: int = 2026,
    say: Callable[[str], object] = print,
) -> dict:
    """Measure on a fresh SQLite database under /tmp, print the report with `say`, return the figures."""
    workdir = Path(tempfile.mkdtemp(prefix="outcry-bench-", dir="/tmp"))
    try:
        app = create_app(
            {
                "SECRET_KEY": secrets.token_hex(32),
                "DATABASE_URL": f"sqlite:///{workdir / 'bench.db'}",
                "REDIS_URL": "redis://127.0.0.1:1/0",  # the lookup never uses Redis; nothing connects
                "RATELIMIT_ENABLED": False,  # the API loop below is one client asking thousands of times
            }
        )
        with app.app_context():
            upgrade()
            started = time.perf_counter()
            congress_load.ensure_loaded()
            load_seconds = time.perf_counter() - started

            # Memory the cache adds: RSS around the first build, then tracemalloc around a second one.
            gc.collect()
            rss_before = rss_bytes()
            started = time.perf_counter()
            service.lookup("94110")
            build_seconds = time.perf_counter() - started
            gc.collect()
            rss_after = rss_bytes()
            service.get_cache().invalidate()
            gc.collect()
            tracemalloc.start()
            service.lookup("94110")
            gc.collect()
            traced, _peak = tracemalloc.get_traced_memory()
            tracemalloc.stop()

            mix = zip_mix(zips, seed)
            found = [service.lookup(z) for z in mix]
            split = sum(result.split for result in found)
            supplement = sum(result.source == "supplement" for result in found)

            cached_calls, cached_seconds = rate(service.lookup, mix, seconds=seconds)
            dict_calls, dict_seconds = rate(lambda z: service.lookup(z).as_dict(), mix, seconds=seconds)
            db_calls, db_seconds = rate(uncached, mix, seconds=0, limit=db_lookups)
        client = app.test_client()
        api_calls, api_seconds = rate(
            lambda z: client.get("/api/v1/congress", query_string={"zip": z}), mix, seconds=0, limit=api_requests
        )
        with app.app_context():
            db.engine.dispose()
    finally:
        shutil.rmtree(workdir, ignore_errors=True)

    cached_rate = cached_calls / cached_seconds
    db_rate = db_calls / db_seconds
    rows = [
        ("cached: service.lookup()", cached_calls, cached_seconds),
        ("cached + as_dict() (the API body)", dict_calls, dict_seconds),
        ("uncached: queries per lookup", db_calls, db_seconds),
        ("GET /api/v1/congress (test client)", api_calls, api_seconds),
    ]
    mib = 1024 * 1024
    say(f"ZIP lookup benchmark: SQLite, {len(mix):,} real ZIPs ({split:,} split, {supplement:,} supplement-only)")
    say(f"{'path':<38}{'lookups':>12}{'seconds':>10}{'lookups/s':>13}")
    for label, calls, spent in rows:
        say(f"{label:<38}{calls:>12,}{spent:>10.2f}{calls / spent:>13,.0f}")
    say(f"cached / uncached: {cached_rate / db_rate:,.0f}x")
    say(f"first load into the database: {load_seconds:.2f} s; cache build from the database: {build_seconds:.2f} s")
    rss_text = f"{(rss_after - rss_before) / mib:.1f} MiB" if rss_before and rss_after else "n/a"
    say(f"memory held by the Congress cache: {traced / mib:.1f} MiB (tracemalloc, what the snapshot keeps)")
    say(f"process RSS growth over the first build: +{rss_text} (adds SQLite's page cache and freed build garbage)")
    verdict = "met" if cached_rate >= TARGET_PER_SECOND else "NOT met"
    say(f"target ≥ {TARGET_PER_SECOND:,} cached lookups/s: {verdict}")
    return {
        "database": "sqlite",
        "zips_in_mix": len(mix),
        "cached_lookups_per_s": round(cached_rate),
        "cached_with_as_dict_per_s": round(dict_calls / dict_seconds),
        "uncached_lookups_per_s": round(db_rate),
        "api_requests_per_s": round(api_calls / api_seconds),
        "ratio_cached_to_uncached": round(cached_rate / db_rate, 1),
        "first_load_s": round(load_seconds, 3),
        "cache_build_s": round(build_seconds, 3),
        "cache_memory_mib_tracemalloc": round(traced / mib, 1),
        "cache_memory_mib_rss": round((rss_after - rss_before) / mib, 1) if rss_before and rss_after else None,
        "target_cached_lookups_per_s": TARGET_PER_SECOND,
        "measured_at": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
    }


def write_results(key: str, figures: dict) -> None:
    """Merge one stage's figures into bench/results.json, keeping every other key."""
    results = json.loads(RESULTS.read_text()) if RESULTS.exists() else {}
    results[key] = figures
    RESULTS.write_text(json.dumps(results, indent=2, sort_keys=True) + "\n")


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=2.0, help="time per cached measurement")
    parser.add_argument("--db-lookups", type=int, default=2000, help="lookups for the uncached baseline")
    parser.add_argument("--api-requests", type=int, default=2000, help="GET /api/v1/congress requests")
    parser.add_argument("--zips", type=int, default=5000, help="distinct real ZIPs in the mix")
    parser.add_argument("--seed", type=int, default=2026)
    parser.add_argument("--no-json", action="store_true", help="don't write bench/results.json")
    args = parser.parse_args(argv)
    figures = measure(
        seconds=args.seconds, db_lookups=args.db_lookups, api_requests=args.api_requests, zips=args.zips, seed=args.seed
    )
    if not args.no_json:
        write_results("zip_lookup", figures)
        print(f"wrote {RESULTS.name} (zip_lookup)")
    return 0 if figures["cached_lookups_per_s"] >= TARGET_PER_SECOND else 1


if __name__ == "__main__":
    raise SystemExit(main())
