"""Prometheus metrics in the text exposition format (0.0.4), kept in plain dicts.

Four small families are all the registry needs (request counts and latency by route, bytes in and
out, upload sessions, GC runs and bytes freed, storage latency by operation), so the format is
written here rather than through a client library. Labels are bounded: routes are the route
*templates* (never client-supplied names), operations are storage method names, methods and status
codes are finite, so a hostile client cannot grow the label space. Histograms, not summaries, so
several instances' series can be added up.
"""

from __future__ import annotations

import bisect
import threading
import time
from collections import defaultdict
from typing import Any, Callable

_BUCKETS = (0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1.0, 5.0, 30.0, 120.0)
Labels = tuple[tuple[str, str], ...]

HELP = {
    "registry_http_requests_total": ("counter", "Requests answered, by method, route template and status."),
    "registry_http_request_duration_seconds": ("histogram", "Time to answer a request, by route template."),
    "registry_blob_bytes_received_total": ("counter", "Blob bytes received in uploads."),
    "registry_blob_bytes_sent_total": ("counter", "Blob bytes sent to pullers."),
    "registry_blob_pulls_total": ("counter", "Blob GETs answered."),
    "registry_upload_sessions_started_total": ("counter", "Upload sessions opened."),
    "registry_upload_sessions_committed_total": ("counter", "Upload sessions published as blobs."),
    "registry_upload_sessions_cancelled_total": ("counter", "Upload sessions cancelled or failed."),
    "registry_upload_requests_in_flight": ("gauge", "Upload requests being received right now."),
    "registry_gc_runs_total": ("counter", "Garbage collection passes, by result."),
    "registry_gc_freed_bytes_total": ("counter", "Bytes of blobs deleted by garbage collection."),
    "registry_gc_deleted_blobs_total": ("counter", "Blobs deleted by garbage collection."),
    "registry_gc_last_success_timestamp_seconds": ("gauge", "When the last successful GC pass ended."),
    "registry_storage_operation_seconds": ("histogram", "Storage backend call latency, by backend and operation."),
}


def _labels(labels: dict[str, Any]) -> Labels:
    return tuple((k, str(v)) for k, v in labels.items())


def _num(value: float) -> str:
    return str(int(value)) if value == int(value) else repr(value)


def _fmt(labels: Labels, extra: tuple[tuple[str, str], ...] = ()) -> str:
    pairs = labels + extra
    if not pairs:
        return ""
    escaped = (v.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n") for _, v in pairs)
    return "{" + ",".join(f'{k}="{v}"' for (k, _), v in zip(pairs, escaped)) + "}"


class Metrics:
    """Counters, gauges and histograms keyed by (name, labels); thread-safe (storage runs in threads)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._values: defaultdict[tuple[str, Labels], float] = defaultdict(float)
        self._hist: dict[tuple[str, Labels], list[float]] = {}

    def add(self, name: str, value: float = 1, **labels: Any) -> None:
        """Increase a counter (or move a gauge) such as `registry_blob_bytes_received_total`."""
        with self._lock:
            self._values[(name, _labels(labels))] += value

    def set(self, name: str, value: float, **labels: Any) -> None:
        """Set a gauge."""
        with self._lock:
            self._values[(name, _labels(labels))] = value

    def time(self, name: str, seconds: float, **labels: Any) -> None:
        """Record one observation in a histogram."""
        with self._lock:
            counts = self._hist.setdefault((name, _labels(labels)), [0.0] * (len(_BUCKETS) + 2))
            counts[bisect.bisect_left(_BUCKETS, seconds)] += 1
            counts[-1] += seconds

    def observe(self, method: str, route: str, status: int, seconds: float) -> None:
        """Record one finished request."""
        self.add("registry_http_requests_total", method=method, route=route, code=status)
        self.time("registry_http_request_duration_seconds", seconds, route=route)

    def timed(self, backend: str, op: str, fn: Callable[..., Any]) -> Callable[..., Any]:
        """`fn` wrapped to record its latency as a storage operation."""

        def call(*args: Any, **kwargs: Any) -> Any:
            started = time.perf_counter()
            try:
                return fn(*args, **kwargs)
            finally:
                self.time("registry_storage_operation_seconds", time.perf_counter() - started, backend=backend, op=op)

        return call

    def render(self) -> str:
        """The exposition text for GET /metrics: each family once, HELP and TYPE first."""
        with self._lock:
            values, hist = dict(self._values), {k: list(v) for k, v in self._hist.items()}
        out: list[str] = []
        for name in sorted({n for n, _ in values} | {n for n, _ in hist}):
            kind, text = HELP.get(name, ("untyped", name))
            out += [f"# HELP {name} {text}", f"# TYPE {name} {kind}"]
            for (n, labels), value in sorted(values.items()):
                if n == name:
                    out.append(f"{name}{_fmt(labels)} {_num(value)}")
            for (n, labels), counts in sorted(hist.items()):
                if n != name:
                    continue
                cumulative = 0.0
                for bound, count in zip((*_BUCKETS, "+Inf"), counts[:-1]):
                    cumulative += count
                    out.append(f"{name}_bucket{_fmt(labels, (('le', str(bound)),))} {_num(cumulative)}")
                out.append(f"{name}_sum{_fmt(labels)} {counts[-1]:.6f}")
                out.append(f"{name}_count{_fmt(labels)} {_num(cumulative)}")
        return "\n".join(out) + "\n"
