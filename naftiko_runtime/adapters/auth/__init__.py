"""Inbound authentication: one guard per scheme, applied the same way to every adapter."""
