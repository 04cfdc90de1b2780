"""Recorded errors: what an error id in a 500 answer points at, kept for operators."""
