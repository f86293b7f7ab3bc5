"""Ticket data: ingest and validate, then split (pure functions over DataFrames)."""
