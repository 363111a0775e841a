"""Everything that talks to MongoDB: the client and its compare-and-set commit, the event copier,
indexes, the embedded server."""
from counterflow.core.clock import stamp, utcnow
from counterflow.store.attachments import AttachmentStore
from counterflow.store.client import Store

__all__ = ["AttachmentStore", "Store", "stamp", "utcnow"]
