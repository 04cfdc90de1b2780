"""Imperal's call route: who a call runs as, what ``function`` names, the CallResponse.

imperal-sdk's Auth Gateway (``docs/openapi/auth-gateway.json``: CallRequest,
CallResponse, BatchCallRequest) runs a function as ``user_id``. Here the
user is the authenticated one; another ``user_id`` is honoured only for a
caller with ``accounts.act_for_users`` (an operator or a service identity),
inside the caller's own tenant unless a superuser's, and any other attempt is
refused and recorded as a SecurityEvent.
"""

from asgiref.sync import async_to_sync
from rest_framework.exceptions import PermissionDenied

from apps.accounts.partition import Partition
from apps.accounts.security import record_threat
from apps.accounts.tenancy import OtherTenantRefused, operator_tenant
from apps.common.errors import error_code
from apps.common.http import handler_failure_message, log_handler_failure
from apps.extensions.errors import InvocationError
from apps.extensions.invocation import prepare_tool

from .permissions import ACT_FOR_USERS, may_act_for_users

# imperal-sdk's client always sends this tenant; it means "the user's own".
SDK_DEFAULT_TENANT = "default"
MISMATCH_KIND = "api_call_user_mismatch"
TENANT_MISMATCH_KIND = "api_call_tenant_mismatch"
# A result with only these keys and a status is an ActionResult already.
ACTION_RESULT_KEYS = frozenset(
    {
        "status",
        "data",
        "summary",
        "error",
        "retryable",
        "ui",
        "refresh_panels",
        "error_code",
        "undo",
        "diff",
        "action_receipt",
    }
)


def acting_identity(caller, app_id, user_id, tenant_id):
    """Return (user_id, tenant_id) the call runs as.

    The caller's own id runs in the caller's tenant (``tenant_id`` may be it
    or imperal-sdk's "default", which always means the caller's own); another
    user needs ``accounts.act_for_users``, and another tenant a superuser
    (the operators' tenant rule). Raises PermissionDenied (403) otherwise,
    after recording a SecurityEvent.
    """
    own_tenant = tenant_id in (caller.tenant_id, SDK_DEFAULT_TENANT)
    if user_id == caller.imperal_id and own_tenant:
        return caller.imperal_id, caller.tenant_id
    if may_act_for_users(caller):
        try:
            return user_id, operator_tenant(caller, None if own_tenant else tenant_id)
        except OtherTenantRefused as exc:
            _record_refusal(TENANT_MISMATCH_KIND, caller, app_id, user_id, tenant_id)
            raise PermissionDenied(f"tenant_id: {exc}") from None
    _record_refusal(MISMATCH_KIND, caller, app_id, user_id, tenant_id)
    raise PermissionDenied(
        f"user_id {user_id[:80]!r} (tenant {tenant_id[:64]!r}) is not the "
        f"authenticated user {caller.imperal_id!r}; calling as another user needs "
        f"the permission {ACT_FOR_USERS}"
    )


def _record_refusal(kind, caller, app_id, user_id, tenant_id):
    record_threat(
        kind,
        Partition(caller.tenant_id, app_id, caller.imperal_id),
        asked_user=user_id,
        asked_tenant=tenant_id,
    )


def prepare_function(app_id, function, user_id, params, tenant_id):
    """Return the PreparedCall of ``function`` of ``app_id``; raises as prepare_tool.

    Today ``function`` names a tool. Chat functions (``@chat.function``,
    issue 15) belong here: look them up first, then fall back to tools.
    """
    return prepare_tool(app_id, function, user_id, params, tenant_id=tenant_id)


def run_call(app_id, function, user_id, params, tenant_id):
    """Run one call; return its CallResponse dict. Raises InvocationError."""
    call = prepare_function(app_id, function, user_id, params, tenant_id)
    return call_response(async_to_sync(call.run)())


def run_batch_item(app_id, item, user_id, tenant_id):
    """Run one call of a batch; return its CallResponse, an error one if refused.

    Errors other than an invocation's (the database failing, …) propagate:
    the batch answers 500 as a whole.
    """
    try:
        return run_call(app_id, item["function"], user_id, item["params"], tenant_id)
    except InvocationError as exc:
        return {
            "status": "error",
            "data": None,
            "summary": None,
            "error": f"{error_code(exc)}: {_public_message(exc)}",
            "ui": None,
        }


def call_response(result):
    """Return the CallResponse of a handler's JSON result.

    A result shaped like imperal-sdk's ActionResult (a "success"/"error"
    status and only its keys) maps field by field; anything else is the
    ``data`` of a success.
    """
    if (
        isinstance(result, dict)
        and result.get("status") in ("success", "error")
        and set(result) <= ACTION_RESULT_KEYS
    ):
        return {
            "status": result["status"],
            "data": result.get("data"),
            "summary": result.get("summary"),
            "error": result.get("error"),
            "ui": result.get("ui"),
        }
    return {
        "status": "success",
        "data": result,
        "summary": None,
        "error": None,
        "ui": None,
    }


def _public_message(exc):
    if error_code(exc) == "handler_failed":
        return handler_failure_message(exc, log_handler_failure(exc))
    return str(exc)
