"""A test-only URLconf: the gateway's routes plus views that fail on purpose."""

from django.db import OperationalError
from django.urls import include, path
from rest_framework.permissions import AllowAny
from rest_framework.views import APIView

from apps.store.errors import StoreUnavailable

SECRET_IN_TRACEBACK = "imp_s_secret-that-must-stay-in-the-log"


class Failing(APIView):
    """Raise the exception its ``kind`` names."""

    authentication_classes = []
    permission_classes = [AllowAny]
    kinds = {
        "internal": lambda: RuntimeError(f"boom {SECRET_IN_TRACEBACK}"),
        "database": lambda: OperationalError("connection refused"),
        "store": lambda: StoreUnavailable("pool exhausted", retry_after=7),
        "value": lambda: ValueError("store: limit must be 1-1000, got 0"),
        "permission": lambda: PermissionError("not yours"),
    }

    def get(self, request, kind):
        raise self.kinds[kind]()


class NamesNothing(APIView):
    """A view that names no permission: the default must refuse it."""

    authentication_classes = []

    def get(self, request):
        return None


urlpatterns = [
    path("fail/<str:kind>", Failing.as_view()),
    path("names-nothing", NamesNothing.as_view()),
    path("", include("apps.gateway.urls")),
]
