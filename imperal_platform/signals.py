"""Signals a higher layer sends and a lower one receives, defined at the bottom."""

from django.dispatch import Signal

# Sent by the kernel after ``sync_extensions`` wrote the Extension rows, with
# ``registry``, ``using`` and ``summary``; a receiver (beat entries, ctx.db
# provisioning) appends what failed to ``summary["errors"]``.
extensions_synced = Signal()

# Sent by a face below apps.api when an operator wrote something (the admin's
# extension switch), with ``operator`` (the staff user), ``action`` (an
# OperatorAction action), ``app_id`` and ``detail``; apps.api records it, in
# the sender's transaction.
operator_acted = Signal()
