"""Simulated upstreams for local runs and tests without credentials (today: Letta).

Whether `serve` runs one is `serving.simulated`'s decision; the simulators themselves know
nothing of serving.
"""
