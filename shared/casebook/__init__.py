"""What a clinician reads between sessions: the week ahead with its alerts, one alert with
its client's answers, one client's whole record. Queries only; each goes through the same
scoping (shared.access) and the same audited getters as the JSON routes."""
