"""The extension the benchmark's service token is issued for (no handlers)."""

from imperal_sdk import Extension

ext = Extension("bench-gateway", description="gateway benchmark")
