"""Errors meant for people: the message names the file or param and what to do, so no traceback is needed."""


class UserError(Exception):
    pass
