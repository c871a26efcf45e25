"""Spoken prompts for the gate screen, rendered on the device by espeak-ng.

Commercial gate terminals say the verdict ("体温正常，请通行"); people at a busy gate look
at their phone, not the screen. The prompts are rendered once into WAV files (Mandarin
voice ``cmn``, English ``en``) in a cache beside the check log — no network, no service —
and the page plays them. A device without espeak-ng keeps the page's tones only.
"""

from __future__ import annotations

import hashlib
import logging
import shutil
import subprocess
from dataclasses import dataclass, field
from pathlib import Path

logger = logging.getLogger(__name__)

PROMPTS: dict[str, tuple[str, str]] = {
    "admit": ("验证通过，请通行", "Please go ahead"),
    "deny": ("禁止通行，请到一旁", "No entry. Please step aside"),
    "remeasure": ("请重新测温", "Please measure your temperature again"),
    "manual": ("请稍候，保安人工核验", "Please wait for the guard"),
    "fever": ("体温异常，请到一旁等候复测", "High temperature. Please step aside and wait for a re-test"),
    "fever_confirmed": ("体温异常，请配合工作人员处置", "Fever confirmed. Please follow the staff"),
    "waiting": ("请稍候", "Please wait"),
    "unreadable": ("请将二维码对准摄像头", "Please hold the code to the camera"),
    "repeat": ("此码刚已检查", "This code was just checked"),
    "retest_due": ("可以复测了", "The re-test is due"),
}
"""Prompt key → (zh-CN, English) words. Keys are what the page asks for."""

VOICES = {"zh-CN": "cmn", "en": "en"}


@dataclass
class Voice:
    """The rendered prompts: (language, key) → WAV file."""

    cache: Path
    files: dict[tuple[str, str], Path] = field(default_factory=dict)

    def render(self, espeak: str | None = None) -> None:
        """Render every prompt not yet in the cache (a file per text, so changed words
        are rendered again). Errors leave the page with tones only, never stop the gate."""
        program = espeak or shutil.which("espeak-ng")
        if program is None:
            logger.warning("espeak-ng not installed: the gate screen plays tones only")
            return
        self.cache.mkdir(parents=True, exist_ok=True)
        for key, texts in PROMPTS.items():
            for lang, text in zip(VOICES, texts, strict=True):
                digest = hashlib.sha256(f"{VOICES[lang]}:{text}".encode()).hexdigest()[:12]
                path = self.cache / f"{key}.{lang}.{digest}.wav"
                if not path.exists() and not self._speak(program, VOICES[lang], text, path):
                    continue
                self.files[(lang, key)] = path

    @staticmethod
    def _speak(program: str, voice: str, text: str, path: Path) -> bool:
        partial = path.with_suffix(".part")
        try:
            subprocess.run(
                [program, "-v", voice, "-s", "150", "-w", str(partial), text],
                check=True, capture_output=True, timeout=30,
            )  # fmt: skip
        except (OSError, subprocess.SubprocessError) as exc:
            logger.warning("could not render the prompt %r: %s", text, exc)
            return False
        partial.replace(path)
        return True

    def available(self) -> list[str]:
        """Keys rendered in both languages (what the page may ask for)."""
        return sorted(key for key in PROMPTS if all((lang, key) in self.files for lang in VOICES))
