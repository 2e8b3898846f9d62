"""Prometheus metrics in the text exposition format, kept in plain dicts (no client library).

Labels are bounded: routes are the route *templates* (never client-supplied names), methods and
status codes are finite, so a hostile client cannot grow the label space.
"""

from __future__ import annotations

import bisect
from collections import defaultdict

_BUCKETS = (0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1.0, 5.0, 30.0, 120.0)


class Metrics:
    """Request counters, a latency histogram per route, and byte counters for blob traffic."""

    def __init__(self) -> None:
        self.requests: defaultdict[tuple[str, str, int], int] = defaultdict(int)
        self.latency: defaultdict[str, list[int]] = defaultdict(lambda: [0] * (len(_BUCKETS) + 1))
        self.latency_sum: defaultdict[str, float] = defaultdict(float)
        self.counters: defaultdict[str, int] = defaultdict(int)

    def observe(self, method: str, route: str, status: int, seconds: float) -> None:
        """Record one finished request."""
        self.requests[(method, route, status)] += 1
        self.latency[route][bisect.bisect_left(_BUCKETS, seconds)] += 1
        self.latency_sum[route] += seconds

    def add(self, name: str, value: int = 1) -> None:
        """Increase a plain counter such as `registry_blob_bytes_received_total`."""
        self.counters[name] += value

    def render(self) -> str:
        """The exposition text for GET /metrics."""
        out = ["# TYPE registry_http_requests_total counter"]
        for (method, route, status), n in sorted(self.requests.items()):
            out.append(f'registry_http_requests_total{{method="{method}",route="{route}",code="{status}"}} {n}')
        out.append("# TYPE registry_http_request_duration_seconds histogram")
        for route, counts in sorted(self.latency.items()):
            cumulative = 0
            for bound, count in zip((*_BUCKETS, "+Inf"), counts):
                cumulative += count
                out.append(f'registry_http_request_duration_seconds_bucket{{route="{route}",le="{bound}"}} {cumulative}')
            out.append(f'registry_http_request_duration_seconds_sum{{route="{route}"}} {self.latency_sum[route]:.6f}')
            out.append(f'registry_http_request_duration_seconds_count{{route="{route}"}} {cumulative}')
        for name, value in sorted(self.counters.items()):
            out.append(f"# TYPE {name} counter")
            out.append(f"{name} {value}")
        return "\n".join(out) + "\n"
