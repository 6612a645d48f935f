"""The engine: each exposed operation compiled once into a small graph of steps, then called."""
