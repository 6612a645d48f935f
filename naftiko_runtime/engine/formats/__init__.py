"""One decoder per `outputRawFormat`: upstream payloads become JSON values for mapping."""
