"""Every error the gate screen shows, in the guard's language.

The page sends its language in ``Accept-Language`` (the guard's switch, not the
browser's locale); the answer is ``{"error": <text in that language>}``. Validation
messages are built from pydantic's error type and the field's name in that language —
never pydantic's English — and a form's own rule says its message in both languages.
"""

from __future__ import annotations

import contextlib
from typing import Any

from fastapi import Request
from fastapi.exceptions import RequestValidationError

from core.messages import LocalisedError

FIELDS: dict[str, tuple[str, str]] = {
    "guard_id": ("保安编号", "guard id"),
    "pin": ("PIN 码", "PIN"),
    "reason": ("原因", "reason"),
    "note": ("备注", "note"),
    "name": ("姓名", "name"),
    "phone": ("电话", "phone"),
    "host": ("被访人 / 单位", "host"),
    "purpose": ("事由", "purpose"),
    "escort": ("陪同人", "escort"),
    "temp_c": ("体温", "temperature"),
    "itinerary": ("行程卡", "itinerary card"),
    "mask": ("口罩", "mask"),
    "category": ("人员类别", "kind of person"),
    "symptoms": ("健康问题", "health questions"),
    "leaving": ("离开登记", "leaving"),
    "method": ("复测方式", "re-test method"),
    "action": ("处置措施", "action taken"),
    "verdict": ("判定", "decision"),
    "colour": ("颜色", "colour"),
    "kind": ("方式", "how"),
    "id_number": ("证件号码", "document number"),
    "code": ("码文", "code text"),
    "seq": ("记录编号", "check number"),
    "visitor_id": ("访客编号", "visitor number"),
}

# pydantic error type → (zh-CN, English), formatted with the error's context.
TYPES: dict[str, tuple[str, str]] = {
    "missing": ("必填", "required"),
    "string_too_short": ("至少 {min_length} 个字符", "at least {min_length} characters"),
    "string_too_long": ("最多 {max_length} 个字符", "at most {max_length} characters"),
    "string_pattern_mismatch": ("格式不正确", "not in the expected form"),
    "string_type": ("应为文字", "text expected"),
    "literal_error": ("请从选项中选择一项", "choose one of the options"),
    "enum": ("请从选项中选择一项", "choose one of the options"),
    "float_parsing": ("请输入数字", "a number expected"),
    "float_type": ("请输入数字", "a number expected"),
    "int_parsing": ("请输入整数", "a whole number expected"),
    "int_type": ("请输入整数", "a whole number expected"),
    "finite_number": ("请输入数字", "a number expected"),
    "extra_forbidden": ("不接受此字段", "not a field of this form"),
    "json_invalid": ("请求格式错误", "malformed request"),
    "model_attributes_type": ("请求格式错误", "malformed request"),
    "dict_type": ("请求格式错误", "malformed request"),
}
UNKNOWN = ("输入有误", "invalid value")


def language(request: Request) -> str:
    """The page's language: "en" when it asks for English, zh-CN otherwise."""
    first = request.headers.get("accept-language", "").split(",")[0].strip().lower()
    return "en" if first.startswith("en") else "zh-CN"


def _pick(texts: tuple[str, str], lang: str) -> str:
    return texts[1] if lang == "en" else texts[0]


def validation_message(exc: RequestValidationError, lang: str) -> str:
    """One line per bad field, in words a guard can act on, in ``lang``."""
    lines = []
    for error in exc.errors():
        ctx: dict[str, Any] = error.get("ctx") or {}
        cause = ctx.get("error")
        if isinstance(cause, LocalisedError):
            lines.append(cause.text(lang))  # the form's own rule names its field itself
            continue
        text = _pick(TYPES.get(error["type"], UNKNOWN), lang)
        with contextlib.suppress(KeyError, IndexError):
            text = text.format(**ctx)
        field = next((str(p) for p in reversed(error["loc"]) if isinstance(p, str) and p != "body"), None)
        if field is not None:
            label = _pick(FIELDS.get(field, ("未知字段", field)), lang)
            text = f"{label}：{text}" if lang != "en" else f"{label}: {text}"
        lines.append(text)
    return "；".join(lines) if lang != "en" else "; ".join(lines)
