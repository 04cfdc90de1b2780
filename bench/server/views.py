"""The views a candidate server is driven against: bare Django, DRF, ctx.store."""

from django.http import JsonResponse
from imperal_sdk import Extension
from rest_framework.permissions import AllowAny
from rest_framework.response import Response
from rest_framework.views import APIView

from apps.accounts.identity import PlatformUserContext
from apps.extensions.context import build_context

EXTENSION = Extension("bench-server", description="production-server benchmark")
USER_ID = "bench-user"
COLLECTION = "items"
DOC_ID = "doc-1"
PAYLOAD = {"ok": True, "n": 1}


def bare(request):
    """Return a small JSON body from a sync view: the floor of a Django request."""
    return JsonResponse(PAYLOAD)


async def bare_async(request):
    """Return the same body from an async view (no thread hop under ASGI)."""
    return JsonResponse(PAYLOAD)


class DrfBare(APIView):
    """The same body through DRF's sync APIView, with no authentication."""

    authentication_classes = []
    permission_classes = [AllowAny]

    def get(self, request):
        return Response(PAYLOAD)


def bench_context():
    """Return a kernel context for the benchmark user, built as a request builds one."""
    user = PlatformUserContext(
        imperal_id=USER_ID, email="", tenant_id="default", role="user"
    )
    return build_context(EXTENSION, user)


async def store_get(request):
    """Return the seeded document, read through an async ``ctx.store.get``."""
    document = await bench_context().store.get(COLLECTION, DOC_ID)
    return JsonResponse(document.data)
