"""Sub-commands of the ``radioexplore`` CLI, one module per family, registered explicitly here."""

from radioexplore.commands import data, evaluate, ingest, loop, rank, segment, simulate, space, train

#: Modules with an ``add_commands(subparsers)`` function, in the order ``--help`` lists them.
COMMAND_MODULES = [simulate, ingest, space, rank, train, evaluate, segment, data, loop]
