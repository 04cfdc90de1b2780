"""The gateway's views, one module per surface: authenticate, call the core, shape."""
