"""The second dialect (Ikanos, `ikanos:`) beside alpha2 (`naftiko:`): reading it into the one
model (`ikanos`), what is checked on it as written (`ikanos_checks`), and rewriting a file
from one dialect into the other (`migrate`)."""
