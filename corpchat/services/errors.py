"""Typed errors with a user-facing message key (translated by the UI)."""

from __future__ import annotations


class ServiceError(Exception):
    code = "bad_request"

    def __init__(self, key: str | None = None, **params):
        self.key = key or f"err.{self.code}"
        self.params = params
        super().__init__(f"{self.key} {params}" if params else self.key)


class Invalid(ServiceError):
    code = "bad_request"


class NotAuthenticated(ServiceError):
    code = "not_authenticated"


class Forbidden(ServiceError):
    code = "forbidden"


class NotFound(ServiceError):
    code = "not_found"


class Conflict(ServiceError):
    code = "conflict"


class Throttled(ServiceError):
    code = "throttled"
