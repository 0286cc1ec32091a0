"""Every private Reflex internal CorpChat relies on, in one place.

Reflex 0.10.1 has no public API for these (a token manager lifecycle API is an
open request upstream: reflex-dev/reflex#5669). tests/unit/test_reflex_glue.py
checks each of them, so a Reflex upgrade that breaks one fails loudly there
instead of silently dropping pushes.
"""

from __future__ import annotations

# Reflex's suffix of a state field in a delta on the wire (`live0` -> `live0_rx_state_`).
WIRE_SUFFIX = "_rx_state_"

_app_instance = None


def app():
    """The running rx.App of this worker."""
    global _app_instance
    if _app_instance is None:
        from reflex.utils.prerequisites import get_and_validate_app

        _app_instance = get_and_validate_app().app
    return _app_instance


def namespace():
    """The Socket.IO namespace that holds the tabs' sockets."""
    return app().event_namespace


def token_manager():
    return getattr(namespace(), "_token_manager", None)


def local_sid(token: str) -> str | None:
    """The socket id of this tab if its socket is connected to THIS worker."""
    manager = namespace()._token_manager
    record = manager.token_to_socket.get(token)
    if record is None or getattr(record, "instance_id", manager.instance_id) != manager.instance_id:
        return None
    return record.sid


async def is_connected(token: str) -> bool:
    return await namespace()._token_manager.is_token_connected(token)


def routing_manager():
    """The token manager when it can tell which worker owns a tab (Redis), else None."""
    manager = token_manager()
    if manager is None or not hasattr(manager, "_get_token_owner"):
        return None
    return manager


async def token_owner(manager, token: str) -> str | None:
    """The instance id of the worker holding this tab's socket (None: unknown)."""
    return await manager._get_token_owner(token)
