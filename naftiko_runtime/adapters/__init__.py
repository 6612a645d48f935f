"""Thin adapters that translate a protocol to compiled operations and back."""
