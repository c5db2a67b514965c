"""Prometheus metrics, one module per concern, all in prometheus_client's default registry.

- http: requests by route template, method and status, and their latency (the API);
- messages: dramatiq messages by actor and outcome (the workers);
- scheduler: tick duration and due items by job and outcome (the scheduler);
- safety: the backlogs that put clients and clinicians at risk when they grow (outbox,
  unevaluated answers, emails by state, nudges that have not gone out), read from the
  database at scrape time by exactly one process: the scheduler, or `attune serve`.

`attune worker` and `attune scheduler` serve the registry on their ops port
(services/ops_http.py); the API serves it at /metrics to a bearer of ATTUNE_METRICS_TOKEN
(services.metrics.http).
"""
