"""WSGI entry point: Django behind the chunked-body reader (apps.common.http);
tracing is turned on first when OTEL_* variables ask for it."""

import os

from django.core.wsgi import get_wsgi_application

from apps.common.telemetry import tracing

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "imperal_platform.settings")
tracing.configure()
django_application = get_wsgi_application()

from apps.common.http import ChunkedBodyMiddleware  # noqa: E402 (needs settings)

application = ChunkedBodyMiddleware(django_application)
