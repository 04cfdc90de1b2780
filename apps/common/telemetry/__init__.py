"""What operators see of the platform at work: metrics, traces, request-scoped logs.

- :mod:`.context`: the request a piece of work belongs to (its id, route, call).
- :mod:`.labels`: the one home of which values a metric label may take.
- :mod:`.metrics`: every Prometheus series of the platform, and its exposition.
- :mod:`.tracing`: OpenTelemetry spans, off (and nearly free) unless configured.
- :mod:`.logs`: the log formats (text or JSON) and the request id on each record.

The Django middleware that opens a request's scope is
:mod:`apps.common.middleware` (it answers errors through :mod:`apps.common.http`,
which reads this package).
"""
