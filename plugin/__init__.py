"""counterflow."""
