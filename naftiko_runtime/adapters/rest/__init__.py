"""The REST adapter: routes, inputs, forward proxying, served files and /docs."""
