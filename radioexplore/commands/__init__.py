"""Sub-commands of the ``radioexplore`` CLI, one module per family, registered explicitly here."""

from radioexplore.commands import data, loop, pipeline, segment, train

#: Modules with an ``add_commands(subparsers)`` function, in the order ``--help`` lists them.
COMMAND_MODULES = [pipeline, train, segment, data, loop]
