"""Form definitions at work: JSON pointers, one schema walker, validation, rendering, parsing posted forms."""
