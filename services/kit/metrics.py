"""Prometheus metrics: requests, jobs, and the outbox backlog.

Metrics are module-level (one set per process); the ``service`` label tells the
processes apart when they share a scrape target.
"""

from __future__ import annotations

from prometheus_client import CONTENT_TYPE_LATEST, Counter, Gauge, Histogram, generate_latest

REQUESTS = Counter(
    "pursuit_http_requests_total",
    "HTTP requests handled, by route template and status.",
    ["service", "method", "route", "status"],
)
REQUEST_SECONDS = Histogram(
    "pursuit_http_request_duration_seconds",
    "HTTP request latency, by route template and status.",
    ["service", "method", "route", "status"],
)
JOBS = Counter(
    "pursuit_jobs_total",
    "Jobs run by the worker, by job and outcome (success, duplicate, retry, error).",
    ["service", "job", "outcome"],
)
JOB_SECONDS = Histogram(
    "pursuit_job_duration_seconds",
    "Job latency, by job and outcome.",
    ["service", "job", "outcome"],
)
OUTBOX_BACKLOG = Gauge(
    "pursuit_outbox_backlog",
    "Outbox events committed but not yet handed to the queue.",
    ["service"],
)
OUTBOX_RELAYED = Counter(
    "pursuit_outbox_relayed_total",
    "Outbox events handed to the queue, by event name.",
    ["service", "event"],
)

__all__ = [
    "CONTENT_TYPE_LATEST",
    "JOBS",
    "JOB_SECONDS",
    "OUTBOX_BACKLOG",
    "OUTBOX_RELAYED",
    "REQUESTS",
    "REQUEST_SECONDS",
    "generate_latest",
]
