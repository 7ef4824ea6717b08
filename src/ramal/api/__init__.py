"""HTTP handlers, one small module per API module of the contract. Parse, call a service, render."""
