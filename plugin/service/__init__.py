"""One function per user action, split by concept; views and the CLI only translate to and from these."""
from counterflow.service.actions import Service

__all__ = ["Service"]
