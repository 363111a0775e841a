"""Protecting people's data and accounts: masking, sealing, passwords, tokens."""
