"""Errors the services raise. The edge (``api``) maps each class to a wire ``codigo``.

``detail`` is the user-facing sentence (Portuguese, as the service's clients expect) and must not
contain a double quote (contract §11).
"""

from __future__ import annotations


class ServiceError(Exception):
    def __init__(self, detail: str) -> None:
        super().__init__(detail)
        self.detail = detail


class InvalidInput(ServiceError):
    """A value the caller sent is unacceptable (wire code 001)."""


class AuthenticationFailed(ServiceError):
    """Credentials or token unknown, wrong, expired or revoked; never says which (wire code 006)."""

    def __init__(self, detail: str = "Falha na autenticacao: credenciais ou token invalidos") -> None:
        super().__init__(detail)


class Forbidden(ServiceError):
    """Authenticated, but not allowed to do this (e.g. getAllPins without admin credentials)."""


class NotFound(ServiceError):
    """No such record for this caller; other tenants' records are reported the same way."""


class Conflict(ServiceError):
    """The record is not in a state that allows the operation (e.g. ending a finished call)."""
