"""All MongoDB access: client with compare-and-set commit, event copier, indexes, embedded server."""
from counterflow.core.clock import stamp, utcnow
from counterflow.store.attachments import AttachmentStore
from counterflow.store.client import Store

__all__ = ["AttachmentStore", "Store", "stamp", "utcnow"]
