"""The platform's floor: the low-level pieces every app shares.

Errors and their HTTP shape, signals, backend loading, SQL statements, the
async pool, rate limits, timestamps, the webhook origin and telemetry. Nothing
here imports another app; everything else may import from here.
"""
