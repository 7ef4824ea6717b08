"""Domain logic in plain English names. Never imports ``api``, ``wire`` or a web framework."""
