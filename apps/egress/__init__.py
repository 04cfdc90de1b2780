"""ctx.http behind the egress guard: the policy, the pinned connector, the bounds
and the record of every outbound call made for an extension."""
