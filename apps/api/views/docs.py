"""The API's documentation pages, Swagger UI and Redoc, from drf-spectacular-sidecar's
local files, with a Content-Security-Policy that keeps every request on this server.

Redoc's bundle always draws a logo from Redocly's CDN; the policy stops the browser
from fetching it (the page hides a logo that fails to load), as it would stop any
other file the bundles ask a third party for.
"""

from drf_spectacular.views import SpectacularRedocView, SpectacularSwaggerView

SAME_ORIGIN_ONLY = "; ".join(
    (
        "default-src 'self'",
        "img-src 'self' data:",
        "font-src 'self' data:",
        # The pages' inline bootstrap scripts and both bundles' inline styles.
        "script-src 'self' 'unsafe-inline'",
        "style-src 'self' 'unsafe-inline'",
        "worker-src 'self' blob:",
        "connect-src 'self'",
        "frame-ancestors 'self'",
    )
)


class SameOriginDocs:
    """Mixin: answer with SAME_ORIGIN_ONLY as the Content-Security-Policy."""

    def finalize_response(self, request, response, *args, **kwargs):
        response = super().finalize_response(request, response, *args, **kwargs)
        response["Content-Security-Policy"] = SAME_ORIGIN_ONLY
        return response


class SwaggerDocs(SameOriginDocs, SpectacularSwaggerView):
    """Swagger UI of /api/schema/."""


class RedocDocs(SameOriginDocs, SpectacularRedocView):
    """Redoc of /api/schema/ (without its web fonts: see templates/drf_spectacular)."""
