"""``/v1/runtime/claim`` and ``/v1/runtime/reply``: how isolated workers take calls.

A worker holds a runtime token for its extension (``Authorization: Bearer
imp_r_…``) and nothing else of the platform's; these two routes are all it
can do with it: long-poll for its extension's next call, and answer one it
holds. The dispatch (apps.runtime.dispatch) keeps the at-most-once rules.
"""

import re

from django.conf import settings
from imperal_sdk.rpc import RpcReply
from pydantic import ValidationError
from rest_framework.authentication import BaseAuthentication
from rest_framework.exceptions import (
    AuthenticationFailed,
    MethodNotAllowed,
    NotAuthenticated,
)
from rest_framework.permissions import BasePermission
from rest_framework.response import Response

from apps.common.errors import CodedError
from apps.common.http import authorization_credential
from apps.extensions.errors import ExtensionDisabled
from apps.runtime import credentials
from apps.runtime.dispatch import get_dispatch

from .. import wire
from ..lookups import extension_disabled
from .base import GatewayView

WORKER_ID_RULE = "1-100 characters: letters, digits, '.', '_', ':' and '-'"
_WORKER_ID = re.compile(r"^[A-Za-z0-9._:-]{1,100}$")


class WorkerIdentity:
    """The extension a runtime token names (``request.user`` on these routes)."""

    is_authenticated = True

    def __init__(self, app_id):
        self.app_id = app_id


class RuntimeTokenAuthentication(BaseAuthentication):
    """``Authorization: Bearer imp_r_…``: one extension's workers."""

    def authenticate(self, request):
        raw = authorization_credential(request, "Bearer")
        if raw is None:
            return None
        try:
            app_id = credentials.app_of_runtime_token(raw)
        except credentials.RuntimeTokenRejected as exc:
            raise AuthenticationFailed(str(exc)) from None
        if extension_disabled(app_id):
            raise ExtensionDisabled(app_id)
        return WorkerIdentity(app_id), None

    def authenticate_header(self, request):
        return 'Bearer realm="imperal-runtime"'


class HasRuntimeToken(BasePermission):
    def has_permission(self, request, view):
        if isinstance(request.user, WorkerIdentity):
            return True
        raise NotAuthenticated("no runtime token: send Authorization: Bearer imp_r_…")


class NotHeld(CodedError, Exception):
    """A reply for a call the worker does not hold (answered, failed or someone else's)."""

    code = "conflict"


class RuntimeView(GatewayView):
    authentication_classes = [RuntimeTokenAuthentication]
    permission_classes = [HasRuntimeToken]
    http_method_names = ["post"]

    def initial(self, request, *args, **kwargs):
        # A method the route lacks is a 405 whoever asks, before the 401.
        if request.method.lower() not in self.http_method_names:
            raise MethodNotAllowed(request.method)
        super().initial(request, *args, **kwargs)


def _worker_id(body):
    worker_id = body.get("worker_id")
    if not isinstance(worker_id, str) or not _WORKER_ID.match(worker_id):
        raise ValueError(
            f"worker_id must be {WORKER_ID_RULE}, got {str(worker_id)[:40]!r}"
        )
    return worker_id


def _wait(body, longest):
    wait = body.get("wait", longest)
    if isinstance(wait, bool) or not isinstance(wait, int | float) or not 0 <= wait:
        raise ValueError(f"wait must be a number of seconds from 0, got {wait!r:.40}")
    return min(float(wait), longest)


class Claim(RuntimeView):
    """``POST /v1/runtime/claim`` {worker_id, wait?}: 200 {request} or 204 after ``wait`` s."""

    def post(self, request):
        body = wire.body_of(request)
        worker_id = _worker_id(body)
        wait = _wait(body, settings.IMPERAL_RUNTIME["CLAIM_WAIT"])
        call = get_dispatch().claim(request.user.app_id, worker_id, wait)
        if call is None:
            return Response(status=204)
        return Response({"request": call.model_dump(mode="json")})


class Reply(RuntimeView):
    """``POST /v1/runtime/reply`` {worker_id, reply}: 200, or 409 when not held."""

    def post(self, request):
        body = wire.body_of(request)
        worker_id = _worker_id(body)
        try:
            reply = RpcReply.model_validate(body.get("reply"))
        except ValidationError as exc:
            problems = "; ".join(
                f"{'.'.join(map(str, e['loc'])) or '*'}: {e['msg']}"
                for e in exc.errors()
            )
            raise ValueError(
                f"reply is not an imperal-sdk RpcReply: {problems[:300]}"
            ) from None
        if not get_dispatch().answer(request.user.app_id, worker_id, reply):
            raise NotHeld(
                f"worker {worker_id!r} holds no call {reply.corr_id!r} of "
                f"{request.user.app_id!r} (answered, failed by its deadline, or not "
                "its own)"
            )
        return Response({"answered": reply.corr_id})
