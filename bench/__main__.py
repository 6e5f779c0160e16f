"""`make bench`: every stage against its baseline in one run; prints the table and merges bench/results.json.

Usage: .venv/bin/python -m bench [--letters 2000] [--only delivery,intake,totals,zip,render] [--no-json]
Every option also reads an environment variable (BENCH_LETTERS, BENCH_ONLY, …); see bench/README.md.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import signal
import sys
import time
import traceback
from collections.abc import Callable
from pathlib import Path

RESULTS = Path(__file__).with_name("results.json")
STAGES = ("render", "zip", "intake", "delivery", "latency", "totals")  # memory is read at the end of delivery


def _env(name: str, default):
    raw = os.environ.get(name)
    return type(default)(raw) if raw not in (None, "") else default


def parse(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__.splitlines()[0])
    parser.add_argument(
        "--letters", type=int, default=_env("BENCH_LETTERS", 2000), help="delivery: letters (one per submission)"
    )
    parser.add_argument(
        "--workers", type=int, default=_env("BENCH_WORKERS", 2), help="delivery: Celery processes = baseline processes"
    )
    parser.add_argument("--clients", type=int, default=_env("BENCH_CLIENTS", 64), help="concurrent HTTP clients")
    parser.add_argument(
        "--intake-seconds",
        type=float,
        default=_env("BENCH_INTAKE_SECONDS", 8.0),
        help="intake: measured seconds per run",
    )
    parser.add_argument(
        "--latency-letters",
        type=int,
        default=_env("BENCH_LATENCY_LETTERS", 1000),
        help="latency: letters per measurement (the prefork candidates send a small share of it)",
    )
    parser.add_argument(
        "--latency-candidates",
        default=_env("BENCH_LATENCY_CANDIDATES", "threads,gevent,prefork-2,prefork-4"),
        help="latency: worker candidates to measure",
    )
    parser.add_argument(
        "--totals-letters", type=int, default=_env("BENCH_TOTALS_LETTERS", 1_000_000), help="totals: the large size"
    )
    parser.add_argument(
        "--only", default=_env("BENCH_ONLY", ",".join(STAGES)), help=f"comma-separated stages: {', '.join(STAGES)}"
    )
    parser.add_argument("--no-json", action="store_true", help="don't write bench/results.json")
    parser.add_argument("--keep", action="store_true", help="keep the /tmp work folders (logs, databases) for a look")
    parser.add_argument(
        "--markdown",
        action="store_true",
        help="print the table of bench/results.json as Markdown and exit (for the README)",
    )
    args = parser.parse_args(argv)
    args.only = [stage.strip() for stage in args.only.split(",") if stage.strip()]
    unknown = set(args.only) - set(STAGES) - {"memory"}
    if unknown:
        parser.error(f"unknown stage(s): {', '.join(sorted(unknown))}")
    return args


def _stop_on_sigterm() -> None:
    """SIGTERM/SIGHUP unwind like Ctrl-C, so every `finally` stops the processes it started."""

    def handler(signum, _frame):
        raise SystemExit(128 + signum)

    signal.signal(signal.SIGTERM, handler)
    signal.signal(signal.SIGHUP, handler)


# ---------------------------------------------------------------- the table


def _num(value, digits: int = 0, suffix: str = "") -> str:
    if value is None:
        return "—"
    if isinstance(value, str):
        return value
    return f"{value:,.{digits}f}{suffix}"


def _verdict(ok: bool | None) -> str:
    return "—" if ok is None else ("met" if ok else "MISSED")


def rows(results: dict) -> list[tuple[str, str, str, str, str, str, str]]:
    """(stage, figure, value, baseline, ratio, target, verdict) for every figure measured."""
    out = []
    if d := results.get("delivery"):
        app, base = d["app"], d["baseline"]
        out.append((
            "1 delivery", f"letters/s, {d['letters']:,} × 1 letter, worker {app.get('celery_pool') or str(app['celery_processes']) + ' procs'}",
            _num(app["letters_per_s"], 1), f"{_num(base['letters_per_s'], 1)} smtplib", _num(d["ratio"], 3),
            "≥ 0.5", _verdict(d["ratio"] is not None and d["ratio"] >= d["target_ratio"]),
        ))  # fmt: skip
        out.append((
            "", "sent / failed / intake errors", f"{app['sent']:,} / {app['failed']:,} / {app['intake_errors']}",
            f"{base['sent']:,} / {base['errors']}", "", "all sent", _verdict(app["sent"] == d["letters"] and not app["intake_errors"]),
        ))  # fmt: skip
        if "worker_cpu_ms_per_letter" in app:
            app_cpu = app["web_cpu_ms_per_letter"] + app["worker_cpu_ms_per_letter"]
            base_cpu = base.get("client_cpu_ms_per_letter")
            out.append((
                "", "CPU ms/letter: web + worker (baseline: client)",
                f"{_num(app['web_cpu_ms_per_letter'], 1)} + {_num(app['worker_cpu_ms_per_letter'], 1)}",
                _num(base_cpu, 1), _num(base_cpu / app_cpu if base_cpu and app_cpu else None, 3), "", "—",
            ))  # fmt: skip
            if "worker_main_cpu_ms_per_letter" in app:
                main = app["worker_main_cpu_ms_per_letter"]
                out.append((
                    "", "CPU ms/letter: Celery main + pool; sink; Redis; load gen.",
                    f"{_num(main, 1)} + {_num(app['worker_cpu_ms_per_letter'] - main, 1)}; "
                    f"{_num(app['sink_cpu_ms_per_letter'], 1)}; {_num(app.get('redis_cpu_ms_per_letter'), 1)}; "
                    f"{_num(app.get('generator_cpu_ms_per_letter'), 1)}",
                    f"sink {_num(base.get('sink_cpu_ms_per_letter'), 1)}", "", "", "—",
                ))  # fmt: skip
            out.append((
                "", "submissions accepted/s during delivery",
                _num(app["accepted"] / app["intake_seconds"], 1) if app["intake_seconds"] else "—", "", "", "", "—",
            ))  # fmt: skip
    if i := results.get("intake"):
        base = i["baseline"]
        for channel in ("mailto", "smtp"):
            if channel not in i:
                continue
            r = i[channel]
            out.append((
                "2 intake" if channel == "mailto" else "", f"{channel} submissions/s, {i['clients']} clients",
                _num(r["requests_per_s"], 1), f"{_num(base['requests_per_s'], 1)} bare Flask", _num(r["ratio"], 3),
                "≥ 0.33", _verdict(r["ratio"] is not None and r["ratio"] >= i["target_ratio"]),
            ))  # fmt: skip
            out.append((
                "", f"{channel} p50 / p99 ms, errors", f"{_num(r['p50_ms'], 1)} / {_num(r['p99_ms'], 1)}, {r['errors']}",
                f"{_num(base['p50_ms'], 1)} / {_num(base['p99_ms'], 1)}, {base['errors']}", "", "0 errors", _verdict(r["errors"] == 0),
            ))  # fmt: skip
            if "server_cpu_ms_per_request" in r:
                out.append((
                    "", f"{channel} gunicorn CPU ms/request", _num(r["server_cpu_ms_per_request"], 2),
                    _num(base["server_cpu_ms_per_request"], 2), _num(r["cpu_ratio"], 3), "", "—",
                ))  # fmt: skip
    if t := results.get("totals"):
        small, large = t["small"], t["large"]
        out.append((
            "3 totals", f"GET totals p50 ms at {large['letters']:,} letters", _num(large["p50_ms"], 2),
            f"{_num(small['p50_ms'], 2)} at {small['letters']:,}", _num(t["ratio"], 2), "≤ 1.5",
            _verdict(t["ratio"] is not None and t["ratio"] <= t["target_ratio"]),
        ))  # fmt: skip
        out.append((
            "", f"p50 at 1M-scale, {t['database']}; tally rows {large['tally_rows']:,}", _num(large["p50_ms"], 2, " ms"),
            f"{small['tally_rows']:,} rows", "", "< 20 ms", _verdict(large["p50_ms"] is not None and large["p50_ms"] < t["target_p50_ms"]),
        ))  # fmt: skip
    if z := results.get("zip_lookup"):
        out.append((
            "4 ZIP lookup", "lookups/s (cached, in-process)", _num(z["cached_lookups_per_s"]),
            f"{_num(z['uncached_lookups_per_s'])} uncached", _num(z["ratio_cached_to_uncached"], 0, "×"),
            "≥ 50,000/s", _verdict(z["cached_lookups_per_s"] >= z["target_cached_lookups_per_s"]),
        ))  # fmt: skip
        out.append((
            "", "memory of the Congress cache", f"{_num(z['cache_memory_mib_tracemalloc'], 1)} MiB",
            f"+{_num(z['cache_memory_mib_rss'], 1)} MiB RSS", "", "", "—",
        ))  # fmt: skip
    if m := results.get("memory"):
        for name, label in (("gunicorn", "gunicorn worker"), ("celery", "Celery worker")):
            peaks = [
                p for p in (m[name]["worker_peak_mb"], m[name]["master_peak_mb"] if name == "celery" else None) if p
            ]
            peak = max(peaks) if peaks else None
            out.append((
                "5 memory" if name == "gunicorn" else "", f"peak RSS, {label} (after delivery)", _num(peak, 1, " MB"),
                f"master {_num(m[name]['master_peak_mb'], 1)} MB", "", "≤ 150 MB", _verdict(peak is not None and peak <= m[name]["target_mb"]),
            ))  # fmt: skip
    if lat := results.get("latency"):
        out.extend(_latency_rows(lat))
    if (r := results.get("render")) and "in_process_letters_per_s" in r:  # not a results.json from before them
        out.append((
            "6 render", f"letters/s, '{r['template']}' (2 renders each, render process)", _num(r["letters_per_s"]),
            f"{_num(r['in_process_letters_per_s'])} in-process", _num(r["ratio_letters_to_in_process"], 3), "", "—",
        ))  # fmt: skip
        out.append((
            "", "render() calls/s: render process vs in-process", _num(r["render_process_renders_per_s"]),
            f"{_num(r['in_process_renders_per_s'])} in-process", _num(r["ratio_render_process_to_in_process"], 3), "", "—",
        ))  # fmt: skip
        out.append((
            "", f"render() calls/s, {r['threads']} threads at once", _num(r["render_process_renders_per_s_threaded"]),
            f"{_num(r['in_process_renders_per_s_threaded'])} in-process", _num(r["ratio_threaded"], 3), "", "—",
        ))  # fmt: skip
        out.append((
            "", "letters/s vs plain Jinja2 renders (no sandbox)", _num(r["letters_per_s"]),
            f"{_num(r['baseline_plain_jinja_renders_per_s'])} plain renders", _num(r["ratio_letters_to_plain_renders"], 3), "", "—",
        ))  # fmt: skip
    return out


def _latency_rows(lat: dict) -> list[tuple[str, str, str, str, str, str, str]]:
    out = []
    targets = lat["targets"]
    shipped = lat["candidates"].get("threads", {})
    zero = shipped.get("zero_latency") or {}
    paced = shipped.get("latency") or {}
    stormy = shipped.get("with_hostile") or {}
    out.append((
        "7 latency", f"letters/s, provider-paced sink, {paced.get('letters', 0):,} letters, threads 200",
        _num(paced.get("letters_per_s"), 1), f"{_num(zero.get('letters_per_s'), 1)} zero-latency",
        _num(lat.get("throughput_ratio"), 3), f"≥ {targets['throughput_ratio']}",
        _verdict(None if lat.get("throughput_ratio") is None else lat["throughput_ratio"] >= targets["throughput_ratio"]),
    ))  # fmt: skip
    out.append((
        "", f"p50 / p99 s submit→sent, with {lat['hostile_servers']} hostile in flight",
        f"{_num(stormy.get('p50_s'), 2)} / {_num(stormy.get('p99_s'), 2)}",
        f"{_num(paced.get('p50_s'), 2)} / {_num(paced.get('p99_s'), 2)} without", _num(lat.get("p99_ratio"), 3),
        f"p99 ≤ {targets['p99_ratio']}×",
        _verdict(None if lat.get("p99_ratio") is None else lat["p99_ratio"] <= targets["p99_ratio"]),
    ))  # fmt: skip
    out.append((
        "", "sent / failed (paced; with hostile)",
        f"{paced.get('sent', 0):,} / {paced.get('failed', 0)}; {stormy.get('sent', 0):,} / {stormy.get('failed', 0)}",
        "", "", "all sent",
        _verdict(bool(paced) and paced.get("sent") == paced.get("letters") and stormy.get("sent") == stormy.get("letters")),
    ))  # fmt: skip
    out.append((
        "", "peak RSS, delivery worker (threads 200)", _num(lat.get("shipped_rss_mb"), 1, " MB"), "", "",
        f"≤ {targets['rss_mb']} MB",
        _verdict(None if lat.get("shipped_rss_mb") is None else lat["shipped_rss_mb"] <= targets["rss_mb"]),
    ))  # fmt: skip
    for name, result in lat["candidates"].items():
        if name == "threads":
            continue
        paced, stormy = result.get("latency") or {}, result.get("with_hostile") or {}
        hostile = f"; p99 with hostile {_num(stormy.get('p99_s'), 2)} s" if stormy else ""
        out.append((
            "", f"candidate {name}: letters/s ({paced.get('letters', 0):,} letters)", _num(paced.get("letters_per_s"), 1),
            f"p50/p99 {_num(paced.get('p50_s'), 2)} / {_num(paced.get('p99_s'), 2)} s{hostile}",
            "", f"RSS {_num(result.get('peak_rss_mb'), 0)} MB", "—",
        ))  # fmt: skip
    return out


def table(results: dict) -> str:
    header = ("stage", "figure", "value", "baseline", "ratio", "target", "")
    body = rows(results)
    widths = [max(len(str(row[col])) for row in [header, *body]) for col in range(len(header))]
    lines = []
    for index, row in enumerate([header, *body]):
        lines.append("  ".join(str(cell).ljust(widths[col]) for col, cell in enumerate(row)).rstrip())
        if index == 0:
            lines.append("  ".join("-" * width for width in widths))
    return "\n".join(lines)


def markdown(results: dict) -> str:
    header = ("stage", "figure", "value", "baseline", "ratio", "target", "")
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    for row in rows(results):
        lines.append("| " + " | ".join(cell.replace("|", "/") for cell in row) + " |")
    return "\n".join(lines)


# ---------------------------------------------------------------- running


def main(argv: list[str] | None = None) -> int:
    args = parse(argv)
    if args.markdown:
        print(markdown(json.loads(RESULTS.read_text())))
        return 0
    _stop_on_sigterm()
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
    import logging

    logging.getLogger("alembic").setLevel(logging.WARNING)
    logging.basicConfig(level=logging.WARNING)

    from bench import delivery, intake, latency, render, totals, zip_lookup

    def say(line: str) -> None:
        print(line, flush=True)

    started = time.perf_counter()
    results: dict = {}
    failures: dict[str, str] = {}
    plan: list[tuple[str, Callable[[], dict]]] = [
        ("render", lambda: render.run(render.RenderOptions(), say)),
        ("zip_lookup", lambda: zip_lookup.measure(seconds=2.0, say=lambda line: say(f"  zip: {line}"))),
        ("intake", lambda: intake.run(intake.IntakeOptions(clients=args.clients, seconds=args.intake_seconds), say)),
        (
            "delivery",
            lambda: delivery.run(
                delivery.DeliveryOptions(
                    letters=args.letters, workers=args.workers, clients=args.clients, keep=args.keep
                ),
                say,
            ),
        ),
        (
            "latency",
            lambda: latency.run(
                latency.LatencyOptions(
                    letters=args.latency_letters,
                    clients=args.clients,
                    candidates=tuple(c.strip() for c in args.latency_candidates.split(",") if c.strip()),
                    keep=args.keep,
                ),
                say,
            ),
        ),
        ("totals", lambda: totals.run(totals.TotalsOptions(large=args.totals_letters, keep=args.keep), say)),
    ]
    wanted = {"zip": "zip_lookup"}
    only = {wanted.get(stage, stage) for stage in args.only}
    if "memory" in only:
        only.add("delivery")
    say(
        f"Outcry benchmarks on {os.cpu_count()} CPUs, Python {platform.python_version()}: {', '.join(s for s, _ in plan if s in only)}"
    )
    for name, stage in plan:
        if name not in only:
            continue
        say(f"\n[{name}]")
        stage_started = time.perf_counter()
        try:
            results[name] = stage()
        except KeyboardInterrupt:
            say("interrupted; every process the bench started has been stopped.")
            return 130
        except Exception as exc:  # noqa: BLE001 - one broken stage must not hide the others' figures
            failures[name] = f"{type(exc).__name__}: {exc}"
            say(f"  {name} FAILED: {failures[name]}")
            traceback.print_exc()
            continue
        say(f"  {name}: {time.perf_counter() - stage_started:.0f}s")
        if name == "delivery":
            results["memory"] = results["delivery"].pop("memory")
    wall = time.perf_counter() - started
    say("\n" + table(results))
    for name, failure in failures.items():
        say(f"{name}: could not measure: {failure}")
    say(f"\nwall time: {wall:.0f}s")

    if not args.no_json:
        stored = json.loads(RESULTS.read_text()) if RESULTS.exists() else {}
        stored.update(results)
        stored["run"] = {
            "measured_at": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
            "wall_s": round(wall, 1),
            "cpus": os.cpu_count(),
            "python": platform.python_version(),
            "stages": sorted(results),
            "failed": failures,
            "options": {
                "letters": args.letters, "workers": args.workers, "clients": args.clients,
                "intake_seconds": args.intake_seconds, "totals_letters": args.totals_letters,
                "latency_letters": args.latency_letters, "latency_candidates": args.latency_candidates,
            },
        }  # fmt: skip
        RESULTS.write_text(json.dumps(stored, indent=2, sort_keys=True, default=str) + "\n")
        say(f"wrote {RESULTS.relative_to(Path.cwd()) if RESULTS.is_relative_to(Path.cwd()) else RESULTS}")
    return 1 if failures else 0


if __name__ == "__main__":
    raise SystemExit(main())
