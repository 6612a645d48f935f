"""Serving: assembling a runtime from capabilities, reloading it, and the process around it."""
