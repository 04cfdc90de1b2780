"""Benchmark-only routes (selected by bench.server.settings), never in production."""

from django.urls import path

from . import views

urlpatterns = [
    path("bench/bare", views.bare, name="bench-bare"),
    path("bench/bare-async", views.bare_async, name="bench-bare-async"),
    path("bench/drf", views.DrfBare.as_view(), name="bench-drf"),
    path("bench/store", views.store_get, name="bench-store"),
]
