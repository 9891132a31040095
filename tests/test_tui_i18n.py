"""The UI catalog: both languages have the same keys, every key the code asks for
exists, every field and choice has a label, and the language is chosen as documented."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from crm_tui import i18n
from crm_tui.domain.entities import ENTITIES

ROOT = Path(__file__).resolve().parent.parent / "crm_tui"
UI_FILES = [ROOT / "app.py", *(ROOT / "screens").glob("*.py"), *(ROOT / "widgets").glob("*.py")]


def test_english_and_chinese_have_the_same_keys() -> None:
    assert set(i18n.catalog("en")) == set(i18n.catalog("zh"))


def test_every_literal_key_used_by_the_ui_exists() -> None:
    used: set[str] = set()
    for path in UI_FILES:
        text = path.read_text(encoding="utf-8")
        used |= set(re.findall(r"""\bt\(["']([a-z_.]+)["']""", text))
        used |= set(re.findall(r"""["'](key\.[a-z_]+)["']""", text))
    assert used, "no catalog keys found: the pattern is wrong"
    missing = sorted(k for k in used if not i18n.has(k))
    assert missing == []


@pytest.mark.parametrize("lang", ["en", "zh"])
def test_every_field_and_choice_has_a_label(lang: str) -> None:
    i18n.set_language(lang)
    try:
        for ent in ENTITIES.values():
            for f in ent.fields:
                assert i18n.has(f"field.{f.name}") or i18n.has(f"field.{ent.table}.{f.name}"), f.name
                for code in f.choices:
                    assert i18n.choice_label(ent, f.name, code) != code or code in ("A", "B", "C"), (f.name, code)
    finally:
        i18n.set_language("en")


def test_chinese_choice_labels_differ_by_record_kind() -> None:
    i18n.set_language("zh")
    try:
        assert i18n.choice_label(ENTITIES["customers"], "status", "new") == "新客户"
        assert i18n.choice_label(ENTITIES["complaints"], "status", "new") == "新建"
        assert i18n.t("customers.count", shown="1", total="2") == "1 / 2 位客户"
    finally:
        i18n.set_language("en")


def test_language_choice_order(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("CRM_LANG", raising=False)
    assert i18n.resolve_language(None) == "en"
    assert i18n.resolve_language("zh") == "zh"
    monkeypatch.setenv("CRM_LANG", "zh_CN.UTF-8")
    assert i18n.resolve_language("en") == "zh"  # the environment wins over the file
    assert i18n.resolve_language("zh", explicit="en") == "en"
    monkeypatch.setenv("CRM_LANG", "fr")
    assert i18n.resolve_language(None) == "en"
