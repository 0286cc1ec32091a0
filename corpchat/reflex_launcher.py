"""`python -m corpchat.reflex_launcher run ...`: the `reflex` command as `make run` needs it.

Reflex's init (run at the first start, whenever `.web` is missing) touches
`requirements.txt` even when it already pins reflex, so Make saw a newer file and
reinstalled everything at the next `make run`; nothing at start may write tracked files.
Its "Install dependencies ... uv run reflex run" hint contradicts the README.
"""

from __future__ import annotations

import logging

from reflex.reflex import cli

from corpchat.realtime import reflex_glue


class _NoInstallHint(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        return "requirements.txt" not in record.getMessage()


def main() -> None:
    reflex_glue.leave_requirements_txt_alone()
    logging.getLogger("reflex.reflex").addFilter(_NoInstallHint())
    cli()


if __name__ == "__main__":
    main()
