"""``python -m patron.codes [PATH]``: write the catalogue's page (default: print it)."""

from __future__ import annotations

import sys
from pathlib import Path

from patron.codes import markdown


def main(argv: list[str]) -> None:
    page = markdown()
    if argv:
        Path(argv[0]).write_text(page, encoding="utf-8")
    else:
        sys.stdout.write(page)


if __name__ == "__main__":
    main(sys.argv[1:])
