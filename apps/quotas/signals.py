"""How the surfaces above tell ``reconcile_quotas`` what their held usage really is."""

from django.dispatch import Signal

#: Sent by ``manage.py reconcile_quotas``. A receiver (a surface that charges a
#: held kind, such as ctx.storage's ``files.bytes``) returns ``(kind, {partition:
#: amount})`` recounted from its data; the command replaces those counters.
recount_held = Signal()
