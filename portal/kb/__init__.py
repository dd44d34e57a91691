"""The fault-case knowledge base: cases, search, field contributions and review."""
