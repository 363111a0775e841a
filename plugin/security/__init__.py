"""Protecting people's data and accounts: sealing, passwords, tokens."""
