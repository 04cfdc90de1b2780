"""``/v1/ext/{app}/webhook/{path}``: an outside sender's request to an ``@ext.webhook``.

Webhook senders are not imperal-sdk clients: no platform credential is asked
for (authenticating the sender is the handler's job: it answers its own 401),
any Accept header is fine, and the body is handed over raw, up to
IMPERAL_WEBHOOK_MAX_BODY_BYTES (a 413 beyond it, before it is read). Each
client address has IMPERAL_API_RATES["webhook"] requests per window (a 429
beyond it, before anything is looked up or recorded). Errors before or in the
handler answer in the one error shape; every answer, the handler's and the
errors, is sandboxed (apps.common.webhook_origin).
"""

from django.conf import settings
from django.http import HttpResponse
from rest_framework.negotiation import BaseContentNegotiation
from rest_framework.permissions import AllowAny
from rest_framework.renderers import JSONRenderer
from rest_framework.views import APIView

from apps.api.throttling import ClientAddressThrottle, refusal
from apps.common.http import invocation_exception_handler, read_body
from apps.common.webhook_origin import harden
from apps.extensions.webhooks import WebhookMethodNotAllowed, serve_webhook


class AnyAccept(BaseContentNegotiation):
    """Answer errors as JSON whatever the sender's Accept header says."""

    def select_parser(self, request, parsers):
        return None

    def select_renderer(self, request, renderers, format_suffix=None):
        return renderers[0], renderers[0].media_type


class Webhook(APIView):
    """Any method: the webhook's declared one runs it, another is a 405."""

    authentication_classes = []
    permission_classes = [AllowAny]
    throttle_classes = [ClientAddressThrottle]
    renderer_classes = [JSONRenderer]
    content_negotiation_class = AnyAccept
    body_limit_rule = "IMPERAL_WEBHOOK_MAX_BODY_BYTES"

    @property
    def max_body_bytes(self):
        return settings.IMPERAL_WEBHOOK_MAX_BODY_BYTES

    def get_exception_handler(self):
        return invocation_exception_handler

    def throttled(self, request, wait):
        raise refusal(self, wait)

    def finalize_response(self, request, response, *args, **kwargs):
        return harden(super().finalize_response(request, response, *args, **kwargs))

    def handle(self, request, app, path):
        try:
            answer = serve_webhook(
                app,
                path,
                request.method,
                request.headers,
                lambda: self._body(request),
                request.query_params.dict(),
            )
        except WebhookMethodNotAllowed as exc:
            self.headers["Allow"] = exc.allowed  # put on the answer by DRF
            return self.handle_exception(exc)
        return HttpResponse(
            answer.body,
            status=answer.status,
            content_type=answer.content_type,
            headers=answer.headers,
        )

    get = post = put = patch = delete = handle
    http_method_names = ["get", "post", "put", "patch", "delete", "head"]

    def _body(self, request):
        stream = request.stream
        if stream is None:
            return b""
        return read_body(stream, {"view": self, "request": request})
