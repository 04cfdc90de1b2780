"""Signals a higher layer sends and a lower one receives, defined at the bottom."""

from django.dispatch import Signal

# Sent by the kernel after ``sync_extensions`` wrote the Extension rows, with
# ``registry``, ``using`` and ``summary``; a receiver (beat entries, ctx.db
# provisioning) appends what failed to ``summary["errors"]``.
extensions_synced = Signal()

# Sent by a lower layer with ``app_id`` and, optionally, ``kind`` ("tool",
# "panel", "schedule") and ``name``, to ask whether a loaded extension has that
# id (and declares that handler); the kernel's receiver answers True or False.
# Metric labels take a name only when it is one (apps.common.telemetry.labels).
known_name_lookup = Signal()

# Sent by apps.common.http when a failure is answered with an error id,
# after its log line, with ``error_id``, ``kind`` (handler_failed, internal),
# ``exception_type``, ``message`` and ``traceback`` (for operators only) and
# ``scope`` (the request's RequestScope, or None); a receiver keeps it for the
# admin. A receiver must not raise: the caller's answer still goes out.
error_logged = Signal()

# Sent by a face below apps.api when an operator wrote something (the admin's
# extension switch), with ``operator`` (the staff user), ``action`` (an
# OperatorAction action), ``app_id`` and ``detail``; apps.api records it, in
# the sender's transaction.
operator_acted = Signal()
