"""OpenAPI and Swagger documents beside the runtime: reading them (`documents`), checking a
capability against them (`drift`)."""
