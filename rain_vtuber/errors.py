"""User-facing errors: raised with a message a streamer can act on, printed without a traceback."""


class RainError(Exception):
    """An error whose message says what went wrong and how to fix it."""
