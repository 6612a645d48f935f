"""The client seam to upstream HTTP APIs: the base protocol, the clients, and their errors."""
