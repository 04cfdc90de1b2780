"""Production-server benchmark: candidate servers driven over loopback HTTP."""
