"""Secrets: binds resolved to values, and the redactor that keeps them out of every output."""
