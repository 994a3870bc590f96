"""Benchmarks of the provider (run with ``make bench``); each prints its figures."""
