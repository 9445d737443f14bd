"""``python -m lossesbox``: see :mod:`lossesbox.cli`."""

from lossesbox.cli import main

if __name__ == "__main__":
    raise SystemExit(main())
