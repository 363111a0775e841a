"""The pure domain: definitions, the workflow engine, its registry and rules, calendar, numbering, changes."""
