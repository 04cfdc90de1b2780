"""ctx.store: permanent per-user JSON documents, one synchronous core with thin faces."""
