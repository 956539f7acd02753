"""The HTTP service (policy-engine serve): an ASGI application over the library, its OpenAPI
document built from the project's own JSON Schemas, and the audit log of what it answered."""
