"""ramal: a self-hostable telephony API platform, wire-compatible with the Directcall REST API."""

__version__ = "0.1.0"
