"""Benchmarks behind `make bench`: each `scenario_*.py` module measures one goal and returns a Markdown section."""
