"""The second reliability probe extension (see :mod:`tests.reliability.extension`)."""

from tests.reliability.extension import _define

ext = _define("reliable-b")
