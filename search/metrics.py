"""Prometheus text exposition for the server, written by hand (no client
library): query counts by status and a query-latency histogram, plus
HTTP responses by route and status code."""
from __future__ import annotations

import threading
from bisect import bisect_left
from typing import Callable

BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)
QUERY_STATUSES = ("ok", "no_results", "bad_request", "error")


class Metrics:
    """Thread-safe counters and one histogram."""

    def __init__(self, extra: Callable[[], dict[str, tuple[str, float]]] | None = None) -> None:
        """`extra()` -> {name: (help, value)}: counters owned elsewhere."""
        self._extra = extra
        self._lock = threading.Lock()
        self.queries = {s: 0 for s in QUERY_STATUSES}
        self.bucket_counts = [0] * len(BUCKETS)  # per bucket, not cumulative
        self.latency_sum = 0.0
        self.latency_count = 0
        self.http: dict[tuple[str, int], int] = {}

    def observe_query(self, status: str, seconds: float) -> None:
        """Count one /search call and, unless it was rejected, its latency."""
        with self._lock:
            self.queries[status] = self.queries.get(status, 0) + 1
            if status in ("ok", "no_results"):
                i = bisect_left(BUCKETS, seconds)
                if i < len(BUCKETS):
                    self.bucket_counts[i] += 1
                self.latency_sum += seconds
                self.latency_count += 1

    def observe_http(self, route: str, code: int) -> None:
        with self._lock:
            self.http[(route, code)] = self.http.get((route, code), 0) + 1

    def render(self) -> str:
        """The text format Prometheus scrapes (version 0.0.4)."""
        with self._lock:
            lines = [
                "# HELP xmodal_queries_total Search queries by outcome.",
                "# TYPE xmodal_queries_total counter",
            ]
            lines += [f'xmodal_queries_total{{status="{s}"}} {n}' for s, n in sorted(self.queries.items())]
            lines += [
                "# HELP xmodal_query_seconds Latency of answered search queries.",
                "# TYPE xmodal_query_seconds histogram",
            ]
            running = 0
            for bound, n in zip(BUCKETS, self.bucket_counts):
                running += n
                lines.append(f'xmodal_query_seconds_bucket{{le="{bound}"}} {running}')
            lines.append(f'xmodal_query_seconds_bucket{{le="+Inf"}} {self.latency_count}')
            lines.append(f"xmodal_query_seconds_sum {self.latency_sum:.6f}")
            lines.append(f"xmodal_query_seconds_count {self.latency_count}")
            lines += [
                "# HELP xmodal_http_responses_total HTTP responses by route and status code.",
                "# TYPE xmodal_http_responses_total counter",
            ]
            lines += [f'xmodal_http_responses_total{{route="{_esc(r)}",code="{c}"}} {n}'
                      for (r, c), n in sorted(self.http.items())]
        for name, (help_text, value) in (self._extra() if self._extra else {}).items():
            lines += [f"# HELP {name} {help_text}", f"# TYPE {name} counter", f"{name} {value}"]
        return "\n".join(lines) + "\n"


def _esc(value: str) -> str:
    return value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")
