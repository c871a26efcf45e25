"""``python -m gatecheck`` runs the same command line as the ``gatecheck`` script."""

from gatecheck.cli import main

main()
