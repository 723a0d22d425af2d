"""Benchmarks (`nox -s bench`): each prints a table and writes JSON under build/bench/."""
