"""Who a system context fans out to, and the hooks a fire's ledger plugs into.

Every system context shares one FanOut with the contexts it scopes with
``as_user``: the store's ``list_users`` passes each page of user ids through
it, and ``ctx.notify`` asks it whether to hold a user's in-app rows. This
default keeps the ids (a tool's or webhook's fan-out is small) and holds
nothing; the scheduler's DeliveryLedger records a fire's deliveries in the
database instead.
"""


class FanOut:
    """Count the users a context acted for; hold no notifications."""

    # Rows of ctx.notify held back to be stored with the user's delivery
    # (None: store them at once).
    outbox = None
    shard = None  # the apps.store.shards.Shard a fire's list_users is limited to
    # The FanOutScope (apps.runtime.worker.envelope) an isolated run carries in
    # its call token: a fire's ledger and shard. None: no ledger, every user.
    scope = None

    def __init__(self):
        self._users = set()

    def scoped(self, user_id):
        """Note that ``as_user(user_id)`` was called."""
        self._users.add(user_id)

    @property
    def count(self):
        """How many users were scoped so far (safe to read from another thread)."""
        return len(self._users)

    @property
    def users(self):
        """The user ids scoped so far."""
        return frozenset(self._users)

    async def pending(self, user_ids):
        """Return the ids of a page of ``list_users`` still to be delivered."""
        return user_ids

    def entered(self, user_id):
        """``list_users`` is about to yield ``user_id``."""

    async def finished(self, user_id):
        """The loop asked for the user after ``user_id``: its iteration is done."""

    async def exhausted(self):
        """``list_users`` yielded its last user."""
