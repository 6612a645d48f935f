"""Metrics of a running instance: what the control adapter's /metrics exposes."""
