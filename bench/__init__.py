"""Benchmarks: each module runs with one command and prints one JSON document.

See docs/benchmarks.md for the commands and the latest figures.
"""
