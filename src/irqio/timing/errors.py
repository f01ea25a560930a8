"""The one error of bad timing input: it names the file, the key path and what is allowed."""

from __future__ import annotations


class SystemFileError(ValueError):
    """A system or profile file is wrong. `str()` is the message a user sees."""

    def __init__(self, path: str, key: str, message: str) -> None:
        self.path = path
        self.key = key
        self.message = message
        super().__init__(f"{path}: {key}: {message}" if key else f"{path}: {message}")
