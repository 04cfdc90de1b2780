"""Locale format overrides (settings.FORMAT_MODULE_PATH): times shown to the second."""
