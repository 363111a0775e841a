"""The server-rendered pages for clerks and admins."""
