"""The platform's URLs plus a plain Django view (no DRF) that raises."""

from django.urls import path

from imperal_platform.urls import urlpatterns as platform_urls


def failing(request):
    raise RuntimeError("token=abcdef0123456789 secret state")


urlpatterns = [path("v1/failing", failing, name="failing"), *platform_urls]
