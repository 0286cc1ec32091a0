"""bcrypt off the event loop, a few at a time.

Each hash takes ~200 ms at 12 rounds: run on the event loop it stalls every open tab of
the worker for that long. bcrypt releases the GIL, so a thread costs the loop nothing,
and a small pool bounds how many cores a burst of logins may take from the loop.
"""

from __future__ import annotations

import asyncio
import functools
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import TypeVar

from corpchat.config import settings

T = TypeVar("T")

_pool = ThreadPoolExecutor(max_workers=settings.bcrypt_threads, thread_name_prefix="bcrypt")


async def run(fn: Callable[..., T], *args, **kwargs) -> T:
    """`fn(*args, **kwargs)` in the bcrypt pool; callers queue when all its threads are busy."""
    return await asyncio.get_running_loop().run_in_executor(_pool, functools.partial(fn, *args, **kwargs))
