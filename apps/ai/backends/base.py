"""The contract every ctx.ai provider backend implements: what one client library's
exceptions mean.

imperal-sdk's ``LLMProvider`` makes every call (:mod:`apps.ai.provider`) and
imports the provider's client library (anthropic, openai) when it first builds
a client. What the core still needs of that library is to read its exceptions;
a backend module imports the library to do so. Each backend module exports
``ProviderBackend`` (a subclass of ProviderBackendBase), and
``settings.IMPERAL_AI["BACKENDS"]`` names the module for each ``LLM_PROVIDER``.
The module is imported on the first call to a provider of its kind, so a
process that calls none (a test server, a management command, a platform
without a provider) never loads a client library (the two together cost about
a second of CPU to import).
"""


class ProviderBackendBase:
    """Tell what an exception the provider's client library raised means.

    Subclasses name the library's three exception classes; the methods read them.
    """

    #: Raised for an error status the provider answered; it carries ``status_code``.
    status_error = None  # subclasses must specify
    #: Raised when the provider did not answer within the client's timeout.
    timeout_error = None  # subclasses must specify
    #: Raised when the provider could not be reached (a timeout is one); its
    #: ``__cause__`` is the transport's error, the egress guard's refusal included.
    connection_error = None  # subclasses must specify

    def status_of(self, exc):
        """Return the HTTP status ``exc`` reports the provider answered, or None."""
        return exc.status_code if isinstance(exc, self.status_error) else None

    def is_timeout(self, exc):
        """Return whether ``exc`` says the provider did not answer in time."""
        return isinstance(exc, self.timeout_error)

    def is_unreachable(self, exc):
        """Return whether ``exc`` says the provider could not be reached."""
        return isinstance(exc, self.connection_error)
