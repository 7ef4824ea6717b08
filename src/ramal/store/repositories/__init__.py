"""Repositories: narrow, intention-named queries over one connection (one transaction)."""
