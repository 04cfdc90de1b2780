"""WSGI entry point: Django, behind the chunked-body reader (imperal_platform.http)."""

import os

from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "imperal_platform.settings")
django_application = get_wsgi_application()

from imperal_platform.http import ChunkedBodyMiddleware  # noqa: E402 (needs settings)

application = ChunkedBodyMiddleware(django_application)
