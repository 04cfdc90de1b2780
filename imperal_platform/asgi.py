"""ASGI entry point (tracing is turned on first when OTEL_* variables ask for it)."""

import os

from django.core.asgi import get_asgi_application

from apps.common.telemetry import tracing

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "imperal_platform.settings")
tracing.configure()
application = get_asgi_application()
