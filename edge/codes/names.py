"""Masking names for the kiosk: enough for the guard to match a face, not to identify."""

from __future__ import annotations


def mask_name(name: str) -> str:
    """'张三' → '张*', '欧阳娜娜' → '欧**娜', 'Gabriele Musterfrau' → 'G. M*********'."""
    name = " ".join(name.split())
    if not name:
        return ""
    if " " in name:
        first, *rest = name.split(" ")
        last = rest[-1]
        return f"{first[0]}. {last[0]}{'*' * (len(last) - 1)}"
    if len(name) <= 2:
        return name[0] + "*" * (len(name) - 1)
    return name[0] + "*" * (len(name) - 2) + name[-1]
