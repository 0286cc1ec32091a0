"""`python -m corpchat.reflex_launcher run ...`: the `reflex` command as `make run` needs it.

Reflex's init (run at the first start, whenever `.web` is missing) touches
`requirements.txt` even when it already pins reflex, so Make saw a newer file and
reinstalled everything at the next `make run`; nothing at start may write tracked files.
Its "Install dependencies ... uv run reflex run" hint contradicts the README.
The HTTP server gets its timeouts and backlog here (reflex_glue.tune_http_server).
"""

from __future__ import annotations

import logging

from reflex.reflex import cli

from corpchat.realtime import reflex_glue


class _NoInstallHint(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        return "requirements.txt" not in record.getMessage()


def main() -> None:
    from corpchat.config import load

    settings = load()
    reflex_glue.leave_requirements_txt_alone()
    reflex_glue.tune_http_server(settings.http_header_timeout_seconds, settings.http_backlog)
    logging.getLogger("reflex.reflex").addFilter(_NoInstallHint())
    cli()


if __name__ == "__main__":
    main()
