"""The ``ramal`` command (Typer): operator commands now, client commands alongside them."""
