"""Whether a process is alive and whether it is ready to do its job, in one form for the API,
the worker and the scheduler (services/api/routes/health.py, services/ops_http.py)."""

from shared.health.process import ProcessHealth, process_health
from shared.health.report import Check, Report

__all__ = ["Check", "ProcessHealth", "Report", "process_health"]
