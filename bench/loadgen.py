"""A lean asyncio HTTP/1.1 load generator: N concurrent keep-alive clients, latencies, statuses and errors.

Hand-written on asyncio streams rather than httpx so that, on a two-core machine, the generator takes
as little CPU as possible away from the servers it measures (httpx spends several times more per
request; see bench/README.md). It speaks just what the bench needs: Content-Length bodies, keep-alive,
and reconnecting when the server closes.
"""

from __future__ import annotations

import asyncio
import itertools
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field


@dataclass
class LoadResult:
    requests: int = 0  # answered with an expected status, inside the measured window
    errors: int = 0  # unexpected status or a failed connection, inside the window
    seconds: float = 0.0
    latencies: list[float] = field(default_factory=list)  # of the measured requests, in seconds
    statuses: Counter = field(default_factory=Counter)
    samples: list[str] = field(default_factory=list)  # first few error descriptions
    first_sent: float = 0.0  # wall clock (time.time()) of the first request written
    last_done: float = 0.0  # wall clock of the last answer
    cpu_seconds: float = 0.0  # CPU the generator itself used
    answered: int = 0  # every response, warm-up included (to divide server CPU by)

    @property
    def rate(self) -> float:
        return self.requests / self.seconds if self.seconds else 0.0

    def percentile(self, share: float) -> float | None:
        """Latency at `share` (0.5, 0.99) in milliseconds, nearest-rank."""
        if not self.latencies:
            return None
        ordered = sorted(self.latencies)
        index = min(len(ordered) - 1, max(0, round(share * len(ordered) + 0.5) - 1))
        return ordered[index] * 1000

    def summary(self) -> dict:
        return {
            "requests": self.requests,
            "errors": self.errors,
            "seconds": round(self.seconds, 3),
            "requests_per_s": round(self.rate, 1),
            "p50_ms": _round(self.percentile(0.50)),
            "p99_ms": _round(self.percentile(0.99)),
            "statuses": {str(k): v for k, v in sorted(self.statuses.items())},
            "error_samples": self.samples[:3],
            "generator_cpu_s": round(self.cpu_seconds, 2),
        }


def _round(value: float | None) -> float | None:
    return None if value is None else round(value, 2)


def request_bytes(
    method: str, host: str, port: int, path: str, body: bytes = b"", content_type: str = "application/json"
) -> bytes:
    head = f"{method} {path} HTTP/1.1\r\nHost: {host}:{port}\r\nUser-Agent: outcry-bench\r\nAccept: */*\r\n"
    if body or method in ("POST", "PUT", "PATCH"):
        head += f"Content-Type: {content_type}\r\nContent-Length: {len(body)}\r\n"
    return head.encode("ascii") + b"\r\n" + body


class _Closed(Exception):
    pass


async def _exchange(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, raw: bytes) -> tuple[int, bytes, bool]:
    """Send one request, read one response: (status, body, server keeps the connection)."""
    writer.write(raw)
    await writer.drain()
    try:
        head = await reader.readuntil(b"\r\n\r\n")
    except asyncio.IncompleteReadError as exc:
        raise _Closed("server closed the connection") from exc
    lines = head.decode("latin-1").split("\r\n")
    version, status = lines[0].split(" ", 2)[:2]
    headers = {}
    for line in lines[1:]:
        if ":" in line:
            name, _, value = line.partition(":")
            headers[name.strip().lower()] = value.strip()
    keep = headers.get("connection", "").lower() != "close" and version == "HTTP/1.1"
    if "content-length" in headers:
        body = await reader.readexactly(int(headers["content-length"]))
    elif headers.get("transfer-encoding", "").lower() == "chunked":
        parts = []
        while True:
            size = int((await reader.readuntil(b"\r\n")).strip().split(b";")[0], 16)
            chunk = await reader.readexactly(size + 2)
            if size == 0:
                break
            parts.append(chunk[:-2])
        body = b"".join(parts)
    else:
        body = await reader.read()
        keep = False
    return int(status), body, keep


async def _run(
    host: str,
    port: int,
    make_request: Callable[[int], bytes],
    *,
    concurrency: int,
    total: int | None,
    duration: float | None,
    warmup: float,
    expect: tuple[int, ...],
    on_response: Callable[[int, int, bytes], None] | None,
) -> LoadResult:
    result = LoadResult()
    counter = itertools.count()
    loop_clock = time.perf_counter
    started = loop_clock()
    window_start = started + warmup
    window_end = window_start + duration if duration is not None else None

    async def client() -> None:
        reader = writer = None
        try:
            while True:
                now = loop_clock()
                if window_end is not None and now >= window_end:
                    return
                index = next(counter)
                if total is not None and index >= total:
                    return
                raw = make_request(index)
                if not result.first_sent:
                    result.first_sent = time.time()
                sent_at = loop_clock()
                try:
                    if writer is None:
                        reader, writer = await asyncio.open_connection(host, port)
                    status, body, keep = await _exchange(reader, writer, raw)
                except (OSError, _Closed, asyncio.IncompleteReadError, ValueError) as exc:
                    if writer is not None:
                        writer.close()
                    reader = writer = None
                    if sent_at >= window_start:
                        result.errors += 1
                        if len(result.samples) < 5:
                            result.samples.append(f"{type(exc).__name__}: {exc}")
                    continue
                done_at = loop_clock()
                result.last_done = time.time()
                result.answered += 1
                if sent_at >= window_start and (window_end is None or done_at <= window_end):
                    result.statuses[status] += 1
                    if status in expect:
                        result.requests += 1
                        result.latencies.append(done_at - sent_at)
                    else:
                        result.errors += 1
                        if len(result.samples) < 5:
                            result.samples.append(f"HTTP {status}: {body[:200]!r}")
                if on_response is not None:
                    on_response(index, status, body)
                if not keep:
                    writer.close()
                    reader = writer = None
        finally:
            if writer is not None:
                writer.close()

    cpu = time.process_time()
    await asyncio.gather(*(client() for _ in range(concurrency)))
    result.cpu_seconds = time.process_time() - cpu
    ended = loop_clock()
    result.seconds = (window_end or ended) - window_start if duration is not None else ended - window_start
    if duration is not None:
        result.seconds = min(result.seconds, ended - window_start)
    return result


def run_load(
    host: str,
    port: int,
    make_request: Callable[[int], bytes],
    *,
    concurrency: int = 64,
    total: int | None = None,
    duration: float | None = None,
    warmup: float = 0.0,
    expect: tuple[int, ...] = (200,),
    on_response: Callable[[int, int, bytes], None] | None = None,
) -> LoadResult:
    """Run `concurrency` clients until `total` requests were sent, or for `warmup` + `duration` seconds
    (only requests sent and answered inside the window after the warm-up count)."""
    if (total is None) == (duration is None):
        raise ValueError("give exactly one of total and duration")
    return asyncio.run(
        _run(
            host, port, make_request, concurrency=concurrency, total=total, duration=duration,
            warmup=warmup, expect=expect, on_response=on_response,
        )
    )  # fmt: skip
