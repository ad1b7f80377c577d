"""The base class of errors a user causes and can fix: a bad file, flag, config or folder.

The `xling-tf` command line prints such an error's message on one line and exits with
code 2 (with `--verbose`, the traceback too); anything else is a bug and keeps its traceback.
Messages therefore name what to fix: the file (and line), the flag, the folder.
"""

from __future__ import annotations


class UserError(Exception):
    """An error in the user's input; its message alone tells what to fix."""
