"""The authors' pytest plugin, enabled for these tests only.

pytest takes ``pytest_plugins`` from the root conftest alone, so the plugin's
fixture and hook are imported here instead: the same objects an author's
``pytest_plugins = ["imperal_platform.testing"]`` registers.
"""

from pathlib import Path

from imperal_platform.testing import imperal, pytest_pyfunc_call  # noqa: F401

PUBLIC_SHAPED = Path(__file__).resolve().parent.parent / "fixtures" / "public_shaped"
