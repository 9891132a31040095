"""A company's name as the same company is written in many ways (整合和去重): 华为,
华为技术, 华为技术有限公司; "Huawei Technologies Co., Ltd." and "Huawei". The one key
duplicate detection and the duplicate warning of a new customer compare companies by.
Pure: no IO."""

from __future__ import annotations

import re
import unicodedata
from functools import lru_cache

# Legal forms (the kind of company, not its name), longest first: 华为技术有限公司 is 华为技术.
_CN_LEGAL_FORMS = ("集团股份有限公司", "集团有限责任公司", "股份有限公司", "有限责任公司", "集团有限公司", "有限公司",
                   "股份公司", "集团公司", "总公司", "公司", "集团", "中国")
# A word of the trade the company names itself by, dropped after the legal form: 华为技术
# and 华为 are one company. Only these few: 科技 and 技术 are what Chinese companies
# most often add to a name, and each leaves a name of two characters or more behind.
# Not 电子, 网络, 贸易, 实业 ... : 华信电子 and 华信贸易 are as often two companies.
_CN_TRADE_WORDS = ("信息技术", "信息科技", "网络技术", "网络科技", "电子科技", "科技", "技术")
# Place names a company name often starts or consists of: a name that is only a place
# (北京科技 -> 北京) keeps its trade word, or every Beijing tech firm would be one.
_PLACES = frozenset(["北京", "上海", "天津", "重庆", "广州", "深圳", "杭州", "南京", "苏州", "武汉", "成都", "西安", "青岛", "大连", "宁波", "厦门", "无锡", "长沙", "郑州", "济南", "沈阳", "合肥", "福州", "昆明", "东莞", "佛山", "中国", "中华", "华东", "华南", "华北", "华中", "西南", "西北", "东北", "香港", "台湾", "澳门", "广东", "江苏", "浙江", "山东", "河南", "河北", "湖南", "湖北", "四川", "福建", "安徽", "辽宁", "江西", "陕西", "山西", "云南", "贵州", "广西", "吉林", "黑龙江", "内蒙古", "新疆", "甘肃", "海南", "宁夏", "青海", "西藏"])
_EN_LEGAL_FORMS = frozenset(["co", "company", "corp", "corporation", "inc", "incorporated", "ltd", "limited", "llc", "llp", "plc", "gmbh", "ag", "kg", "sa", "sas", "sarl", "srl", "spa", "bv", "nv", "pte", "pty", "kk", "oy", "ab", "as", "group", "holding", "holdings"])
_EN_TRADE_WORDS = frozenset(["technologies", "technology", "tech"])
_EN_WORD = re.compile(r"[a-z0-9]+")
# A part in brackets qualifies a name with a place or a branch: 腾讯科技（深圳）有限公司.
_QUALIFIER = re.compile(r"[(（\[【][^)）\]】]*[)）\]】]")
_NOT_NAME = re.compile(r"[\s·.,，。、&＆'\"’()（）\[\]【】-]+")


@lru_cache(maxsize=65536)
def company_key(name: str | None) -> str:
    """The key two spellings of one company share: letters folded (full-width, case),
    punctuation and spaces out, the legal form and a trade word of the end taken off.
    '' for no name. Names in Chinese and in English are not translated: 华为 and
    Huawei are two keys."""
    text = _folded(name)
    if not text:
        return ""
    if text.isascii():
        return _english_key(text)
    core = _NOT_NAME.sub("", text)
    bare = _strip_ends(core, _CN_LEGAL_FORMS) or core
    trimmed = _strip_ends(bare, _CN_TRADE_WORDS, once=True)
    if len(trimmed) >= 2 and trimmed not in _PLACES:
        bare = trimmed
    return bare


def is_company_name(name: str | None) -> bool:
    """Whether a name says it is a company's (it has a legal form or trade word to
    take off): a customer named 华为技术有限公司, not 张伟 nor 华为."""
    text = _folded(name)
    folded = " ".join(_EN_WORD.findall(text)) if text.isascii() else _NOT_NAME.sub("", text)
    return bool(folded) and company_key(name) != folded


def _folded(name: str | None) -> str:
    """Full-width letters and brackets as ASCII, lower case, no bracketed qualifier."""
    text = unicodedata.normalize("NFKC", name or "").casefold().strip()
    return _QUALIFIER.sub(" ", text).strip() or text


def _strip_ends(text: str, words: tuple[str, ...], *, once: bool = False) -> str:
    """`text` without the `words` it ends with (one of them with `once`)."""
    changed = True
    while changed and text:
        changed = False
        for word in words:
            if text.endswith(word) and len(text) > len(word):
                text = text[: -len(word)]
                changed = not once
                break
    return text


def _english_key(text: str) -> str:
    words = _EN_WORD.findall(text.replace("&", " and "))
    if words[:1] == ["the"]:
        words = words[1:]
    while len(words) > 1 and words[-1] in _EN_LEGAL_FORMS:
        words.pop()
    if len(words) > 1 and words[-1] in _EN_TRADE_WORDS:
        words.pop()
    return " ".join(words)
