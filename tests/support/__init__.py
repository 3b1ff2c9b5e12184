"""Helpers shared by the tests and the benchmarks: temp projects, the workflow replay."""
