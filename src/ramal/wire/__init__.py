"""The Directcall wire format, and nothing else: Portuguese names, string codes, envelopes, XML.

Only this package (and the ``api`` handlers that call it) knows the wire vocabulary; services work
with English names and plain Python values.
"""
