"""Operator traffic policies (`serve --policies FILE`): per-upstream timeouts, retries with a
budget, circuit breakers, and rate limits per route or tool and per caller.

They live in a file of their own, never in a capability, so capabilities stay valid for the
reference engine and operators own their limits. Without `--policies` nothing here is
imported and the request path is the one it has always been.
"""
