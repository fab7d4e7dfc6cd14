"""Errors a user can fix, and the exit codes of the ``labelwise`` command.

Every error type of labelwise that a user's input can cause (a config key, a data file, a
run directory) derives from :class:`UserError`; the command prints its message as one line,
``labelwise COMMAND: error: ...``, and exits with its ``exit_code``:

====  ==========================================================================
0     success
1     ``labelwise data validate`` found problems
2     a mistake in the command line, a config, a data file or an input file
3     a run directory that is damaged, incomplete or from another version
4     the operating system refused: permissions, a read-only or full disk
130   interrupted (Ctrl-C); 143 stopped by SIGTERM. Completed checkpoints are kept
====  ==========================================================================

Anything else ends with a traceback: that is a bug in labelwise, please report it.
"""

from __future__ import annotations

EXIT_OK = 0
EXIT_CHECK_FAILED = 1
EXIT_USAGE = 2
EXIT_RUN_DIR = 3
EXIT_SYSTEM = 4
EXIT_INTERRUPTED = 130
EXIT_TERMINATED = 143


class UserError(ValueError):
    """A problem in what the user gave (an option, a config, a file): the message says
    what is wrong, where, and how to fix it."""

    exit_code = EXIT_USAGE
