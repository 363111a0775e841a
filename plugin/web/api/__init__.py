"""The REST API v1: routes, request and response schemas, the OpenAPI document."""
