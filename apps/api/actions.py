"""What operators did, recorded with their names (OperatorAction).

:func:`record` is the one place a row is written, for every face: the operator
API, the console, and through the ``operator_acted`` signal the faces below
this layer (the admin's extension switch).
"""

from apps.accounts.tenancy import operator_tenant

from .models import OperatorAction

Action = OperatorAction.Action


def record(
    operator,
    action,
    partition=None,
    *,
    app_id="",
    collection="",
    doc_id="",
    detail=None,
    **counts,
):
    """Record that ``operator`` (a staff user) did ``action``; return the row.

    ``partition`` is whose data was acted on; without one (an extension or a
    schedule) the row belongs to the operator's own tenant and names
    ``app_id``. ``detail`` identifies the write (an etag, a cache entry, a
    run), never a value. Raises ValueError for an unknown action.
    """
    if partition is not None:
        scope = {
            "tenant_id": partition.tenant_id,
            "app_id": partition.app_id,
            "user_id": partition.user_id,
        }
    else:
        scope = {"tenant_id": operator_tenant(operator), "app_id": app_id}
    return OperatorAction.objects.create(
        operator=operator.get_username(),
        operator_id=operator.imperal_id,
        action=Action(action),
        collection=collection,
        doc_id=doc_id,
        detail=detail or {},
        **scope,
        **counts,
    )


def record_run_now(operator, run):
    """Record that ``operator`` pressed Run now, naming the ScheduleRun it made."""
    detail = {"schedule": run.schedule, "run": run.pk, "status": run.status}
    return record(operator, Action.RUN_NOW, app_id=run.app_id, detail=detail)


def on_operator_acted(sender, *, operator, action, app_id, detail=None, **kwargs):
    """Record an action a lower layer reported through ``operator_acted``."""
    record(operator, action, app_id=app_id, detail=detail)
