"""Benchmark of the gateway: imperal-sdk's StoreClient against the production server."""
