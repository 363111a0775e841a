"""The Flask edge: request context, error handling, the REST API and the pages."""
