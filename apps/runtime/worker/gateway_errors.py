"""The exception a worker raises for a gateway's refusal of a kernel route."""


def refusal(response, what):
    """Return the exception for a gateway ``response`` that is not a success.

    A 400/413 is a ValueError, a 403 a PermissionError (as the same mistake
    raises in-process), anything else a RuntimeError; the message is the
    gateway's, prefixed by ``what``.
    """
    try:
        error = response.json().get("error") or {}
    except (ValueError, AttributeError):
        error = {}
    said = error.get("message") or f"the gateway answered {response.status_code}"
    message = f"{what}: {said}"
    if response.status_code in (400, 413):
        return ValueError(message)
    if response.status_code == 403:
        return PermissionError(message)
    return RuntimeError(message)
