"""Use cases: the only layer that joins storage and I/O with domain logic."""
