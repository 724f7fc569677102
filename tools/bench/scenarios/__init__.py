"""Benchmark scenarios, one module per group (`platform.py`, `benefits.py`, ...).

A module exposes `SCENARIOS: list[tools.bench.scenario.Scenario]`; the harness finds it by itself.
Name scenarios `<group>.<what>`; `python -m tools.bench --scenarios <group>` runs one group.
See tools/bench/scenario.py for the interface and platform.py for an example.
"""
