"""CorpChat's own log lines (corpchat.*) at CORPCHAT_LOG_LEVEL.

Nothing configures Python logging in a Reflex worker, so below WARNING our lines
would only reach logging's last-resort handler, which drops them.
"""

from __future__ import annotations

import logging

from corpchat.config import settings


def configure() -> None:
    logger = logging.getLogger("corpchat")
    logger.setLevel(settings.log_level)
    if not logger.handlers:
        handler = logging.StreamHandler()
        handler.setFormatter(logging.Formatter("%(asctime)s %(process)d %(levelname)s %(name)s: %(message)s"))
        logger.addHandler(handler)
        logger.propagate = False
