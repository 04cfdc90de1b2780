"""The contract of a dispatch: how a call reaches one worker, and its reply the caller.

Semantics every backend keeps (tests/runtime runs one suite on each):

- **Bounded.** At most ``bound`` calls of one extension are queued or running;
  one more is refused with RuntimeBusy (503 ``runtime_busy``, Retry-After).
- **At most once.** A call is claimed by one worker; it is never handed to a
  second one. A worker that dies holding a call gets the call failed
  (:meth:`fail_claims`, an ``infrastructure`` error reply), never re-run.
- **Withdrawn or claimed, not both.** A caller that gives up on a call nobody
  claimed withdraws it (:meth:`withdraw` returns True and no worker will ever
  run it); if a worker claimed it first, withdraw returns False.
- **Expired calls are not run.** A call claimed after its deadline is answered
  with a ``timeout`` error reply instead of being handed out.
"""

import time

from imperal_sdk.rpc import RpcErrorCategory

from apps.common.errors import CodedError

from ..worker.envelope import error_reply


class RuntimeBusy(CodedError, Exception):
    """An extension's queue is full; the call was not queued."""

    code = "runtime_busy"

    def __init__(self, app_id, bound, retry_after):
        super().__init__(
            f"extension {app_id!r} has {bound} calls queued or running, its bound "
            f"(IMPERAL_RUNTIME['QUEUE_BOUND']); retry in {retry_after} s"
        )
        self.retry_after = retry_after


class DispatchError(CodedError, Exception):
    """The dispatch's engine failed; the call may be retried."""

    code = "unavailable"
    retry_after = 1


class DispatchBase:
    """Methods subclasses must implement; each is synchronous and may block."""

    def submit(self, request, bound, retry_after):
        """Queue RpcRequest ``request``; raise RuntimeBusy when ``bound`` are pending."""
        raise NotImplementedError("subclasses of DispatchBase must provide submit()")

    def wait(self, request, timeout):
        """Return the RpcReply of ``request``, or None after ``timeout`` seconds."""
        raise NotImplementedError("subclasses of DispatchBase must provide wait()")

    def withdraw(self, request):
        """Return True when ``request`` was still unclaimed and now never will be."""
        raise NotImplementedError("subclasses of DispatchBase must provide withdraw()")

    def claim(self, app_id, worker_id, wait):
        """Return the next RpcRequest of ``app_id`` for ``worker_id``, or None after
        ``wait`` seconds. Expired calls met on the way are answered, not returned."""
        raise NotImplementedError("subclasses of DispatchBase must provide claim()")

    def answer(self, app_id, worker_id, reply):
        """Deliver RpcReply ``reply``; return False when ``worker_id`` does not hold
        that call of ``app_id`` (nothing is delivered then)."""
        raise NotImplementedError("subclasses of DispatchBase must provide answer()")

    def claims(self, app_id, worker_id):
        """Return the RpcRequests ``worker_id`` holds (claimed, not answered)."""
        raise NotImplementedError("subclasses of DispatchBase must provide claims()")

    def pending(self, app_id):
        """Return how many calls of ``app_id`` are queued or running."""
        raise NotImplementedError("subclasses of DispatchBase must provide pending()")

    def reap_expired(self, app_id, grace):
        """Answer (``timeout``) calls of ``app_id`` held by any worker more than
        ``grace`` seconds past their deadline; return how many."""
        raise NotImplementedError(
            "subclasses of DispatchBase must provide reap_expired()"
        )

    def fail_claims(self, app_id, worker_id, category, message):
        """Answer every call ``worker_id`` holds with an error reply; return how many."""
        failed = 0
        for request in self.claims(app_id, worker_id):
            reply = error_reply(request, category, message)
            failed += bool(self.answer(app_id, worker_id, reply))
        return failed

    # --- shared by the backends ---

    @staticmethod
    def expired(request, now_ns=None):
        """Return whether ``request``'s deadline has passed."""
        return (time.time_ns() if now_ns is None else now_ns) >= request.deadline_ns

    @staticmethod
    def abandoned_reply(request):
        """Return the reply of a call whose worker held it long past its deadline."""
        return error_reply(
            request,
            RpcErrorCategory.TIMEOUT,
            f"{request.app_id}.{request.function}: its worker held it past its "
            "deadline and is gone; it was not re-run",
        )

    @staticmethod
    def expired_reply(request):
        """Return the reply of a call whose deadline passed before a worker took it."""
        return error_reply(
            request,
            RpcErrorCategory.TIMEOUT,
            f"{request.app_id}.{request.function}: its deadline passed before a "
            "worker claimed it",
        )
