"""The worker's delivery path in one process: CPU per letter of `deliver_submission`, and where it goes.

`python -m bench.worker_cpu [--letters N] [--profile FILE]` writes N one-letter smtp submissions through the
API (in-process test client), then delivers them one by one with `deliver_submission` — what a Celery pool
process runs for each task, without Celery — to the same aiosmtpd sink as stage 1, and prints CPU ms per
letter in total and per step (steps nest: `smtp.send` includes `smtp.build_message`, `outbox.finish` includes
`totals.bump`). The sink runs in a process of its own, so its CPU is not counted. Steadier than the
end-to-end run on a busy machine: it compares one change's effect on the worker alone.
`--profile FILE` also writes a cProfile (CPU time) of the delivery loop, for `python -m pstats FILE`.
"""

from __future__ import annotations

import argparse
import collections
import cProfile
import functools
import time
from collections.abc import Callable

from bench.harness import (
    BenchError,
    app_config,
    prepare,
    stage,
    start_sink,
)
from bench.payloads import SUBMISSIONS_PATH, submission

WARM_UP = 20  # letters delivered before measuring: connections, caches and compiled statements warm


def _timed(spent: collections.Counter, module, name: str) -> Callable[[], None]:
    """Wrap module.name to add its CPU time to spent[label]; returns a function that unwraps it."""
    original = getattr(module, name)
    label = f"{module.__name__.rsplit('.', 1)[-1]}.{name}"

    @functools.wraps(original)
    def wrapper(*args, **kwargs):
        started = time.process_time()
        try:
            return original(*args, **kwargs)
        finally:
            spent[label] += time.process_time() - started

    setattr(module, name, wrapper)
    return lambda: setattr(module, name, original)


def run(letters: int, profile: str | None = None, say=print) -> dict:
    with stage("worker") as bench:
        prepare(bench.database, bench.redis_url)
        _sink, port, ca_file = start_sink(bench.processes)
        return _measure(bench.database, bench.redis_url, port, ca_file, letters, profile, say)


def _measure(database, redis_url: str, port: int, ca_file, letters: int, profile: str | None, say) -> dict:
    from sqlalchemy import func, select

    from webapp import create_app, outbox
    from webapp.delivery import credentials, service, smtp, ssrf
    from webapp.extensions import db
    from webapp.models import Letter
    from webapp.totals import service as totals

    config = app_config(
        database, redis_url, SMTP_ALLOWED_HOSTS=f"localhost:{port}", SMTP_CA_FILE=str(ca_file), RATELIMIT_ENABLED=False
    )
    app = create_app(config)
    client = app.test_client()
    ids = []
    for index in range(letters + WARM_UP):
        response = client.post(SUBMISSIONS_PATH, json=submission(index, "smtp", port))
        if response.status_code != 202:
            raise BenchError(f"submission {index} answered {response.status_code}: {response.get_data(as_text=True)}")
        ids.append(response.get_json()["id"])

    def deliver(submission_id: str) -> None:
        with app.app_context():
            service.deliver_submission(submission_id)

    say(f"  worker: {letters:,} letters through deliver_submission …")
    for submission_id in ids[:WARM_UP]:
        deliver(submission_id)
    measured = ids[WARM_UP:]

    spent: collections.Counter = collections.Counter()
    steps = [
        (outbox, "claim"), (outbox, "finish"), (service, "_forget_or_next_due"), (credentials, "load"),
        (ssrf, "check"), (smtp, "connect"), (smtp, "send"), (smtp, "build_message"), (smtp, "close"),
        (totals, "bump"),
    ]  # fmt: skip
    unwrap = [_timed(spent, module, name) for module, name in steps]
    profiler = cProfile.Profile(time.process_time) if profile else None
    try:
        started, wall = time.process_time(), time.perf_counter()
        if profiler:
            profiler.enable()
        for submission_id in measured:
            deliver(submission_id)
        if profiler:
            profiler.disable()
        cpu, wall = time.process_time() - started, time.perf_counter() - wall
    finally:
        for undo in unwrap:
            undo()
    if profiler:
        profiler.dump_stats(profile)
    with app.app_context():
        statuses = dict(db.session.execute(select(Letter.status, func.count()).group_by(Letter.status)).all())
        db.session.remove()
        db.engine.dispose()
    count = len(measured)
    return {
        "letters": count,
        "statuses": statuses,
        "cpu_ms_per_letter": round(1000 * cpu / count, 3),
        "wall_ms_per_letter": round(1000 * wall / count, 3),
        "steps_cpu_ms_per_letter": {label: round(1000 * value / count, 3) for label, value in spent.most_common()},
        "profiled": bool(profiler),
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--letters", type=int, default=600)
    parser.add_argument("--profile", help="also write a cProfile (CPU time) of the delivery loop to this file")
    args = parser.parse_args()
    result = run(args.letters, args.profile)
    note = " (under cProfile: slower, proportions only)" if result["profiled"] else ""
    print(f"deliver_submission: {result['cpu_ms_per_letter']:.2f} ms CPU per letter{note}, "
          f"{result['wall_ms_per_letter']:.2f} ms wall; letters {result['statuses']}")  # fmt: skip
    for label, value in result["steps_cpu_ms_per_letter"].items():
        print(f"  {label:<32} {value:6.2f} ms")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
