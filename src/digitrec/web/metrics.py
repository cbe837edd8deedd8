"""Prometheus metrics: request counts and latency per route and status, predictions per digit.

Under `digitrec serve` every worker writes its samples to PROMETHEUS_MULTIPROC_DIR (set by
``digitrec serve`` before any worker starts) and /metrics adds them up across workers.
"""

from __future__ import annotations

import os

from flask import Response
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    REGISTRY,
    CollectorRegistry,
    Counter,
    Histogram,
    generate_latest,
    multiprocess,
)

REQUESTS = Counter("digitrec_http_requests_total", "HTTP requests answered", ["route", "method", "status"])
LATENCY = Histogram(
    "digitrec_http_request_duration_seconds",
    "Time to answer an HTTP request",
    ["route", "status"],
    buckets=(0.001, 0.002, 0.004, 0.008, 0.016, 0.032, 0.064, 0.128, 0.256, 0.512, 1.0, 2.0),
)
PREDICTIONS = Counter("digitrec_predictions_total", "Digits predicted", ["digit"])


def observe_request(route: str, method: str, status: int, seconds: float) -> None:
    REQUESTS.labels(route, method, str(status)).inc()
    LATENCY.labels(route, str(status)).observe(seconds)


def observe_prediction(digit: int) -> None:
    PREDICTIONS.labels(str(digit)).inc()


def expose() -> Response:
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry)
    else:
        registry = REGISTRY
    return Response(generate_latest(registry), mimetype=CONTENT_TYPE_LATEST)
