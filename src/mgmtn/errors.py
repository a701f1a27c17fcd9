"""Errors a user can act on: the CLI prints their message, never a traceback."""


class MgmtnError(Exception):
    """Base class for errors caused by the user's input or environment."""


class DataError(MgmtnError, ValueError):
    """A dataset folder or file is missing or malformed; the message names it."""
