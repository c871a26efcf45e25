"""Errors people read, in both of the product's languages.

Every message a guard or manager can see exists in zh-CN and English (the screens choose
by the user's language switch); ``str()`` gives both, for logs and the command line.
"""

from __future__ import annotations


class LocalisedError(ValueError):
    """An error with its message in zh-CN and in English."""

    def __init__(self, zh: str, en: str) -> None:
        super().__init__(f"{zh} / {en}")
        self.zh, self.en = zh, en

    def text(self, lang: str) -> str:
        """The message in ``lang`` (a language tag: "en…" is English, anything else zh-CN)."""
        return self.en if lang.lower().startswith("en") else self.zh
