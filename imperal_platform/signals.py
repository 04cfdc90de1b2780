"""Signals a higher layer sends and a lower one receives, defined at the bottom."""

from django.dispatch import Signal

# Sent by the kernel after ``sync_extensions`` wrote the Extension rows, with
# ``registry``, ``using`` and ``summary``; a receiver (beat entries, ctx.db
# provisioning) appends what failed to ``summary["errors"]``.
extensions_synced = Signal()

# Sent by a lower layer with ``app_id`` (any string, often from a URL) to ask
# whether an extension of that id is loaded; the kernel's receiver answers True
# or False. What an outsider names is stored or labelled only if it is one.
app_id_lookup = Signal()
