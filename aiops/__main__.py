"""``python -m aiops``: the same as the ``aiops`` console script."""

from aiops.cli import main

main()
