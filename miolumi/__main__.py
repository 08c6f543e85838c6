"""``python -m miolumi``: the same as the ``miolumi`` command."""

from miolumi.cli import main

main()
