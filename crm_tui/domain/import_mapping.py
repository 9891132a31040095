"""Mapping the column headers of an imported file (English or Chinese, as people
type them in spreadsheets) onto record fields, and undoing the export's formula
neutralising. Pure: no IO."""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from crm_tui.domain.entities import Entity
from crm_tui.i18n import LANGUAGES, catalog

# Columns an export writes that an import accepts but does not take from the file:
# the importing replica stamps its own times.
STAMP_COLUMNS = ("created_at", "updated_at")

# Header synonyms per record kind, keyed by the normalised header (see `header_key`).
# A field's own name and its English label are always accepted as well.
_CUSTOMER_SYNONYMS: dict[str, tuple[str, ...]] = {
    "name": ("姓名", "名字", "客户名称", "客户姓名", "客户", "联系人", "fullname", "customer",
             "customername", "contact", "contactname"),
    "company": ("公司", "公司名称", "单位", "单位名称", "企业", "企业名称", "organisation",
                "organization", "companyname", "org"),
    "title": ("职位", "职务", "头衔", "jobtitle", "position", "role"),
    "phone": ("电话", "座机", "联系电话", "电话号码", "固定电话", "telephone", "tel", "phonenumber",
              "landline", "workphone"),
    "mobile": ("手机", "手机号", "手机号码", "移动电话", "mobilephone", "cell", "cellphone",
               "mobilenumber"),
    "email": ("邮箱", "电子邮件", "电子邮箱", "邮件", "e-mail", "mail", "emailaddress"),
    "wechat": ("微信", "微信号", "weixin", "wechatid"),
    "address": ("地址", "联系地址", "通讯地址", "公司地址", "addr"),
    "region": ("地区", "区域", "省份", "省", "所在地区", "area", "province"),
    "industry": ("行业", "所属行业", "sector"),
    "company_size": ("规模", "公司规模", "企业规模", "size", "employees"),
    "purchasing_power": ("购买力", "消费能力", "purchasingpower"),
    "source": ("来源", "渠道", "客户来源", "来源渠道", "channel", "leadsource"),
    "tags": ("标签", "tag", "labels", "label"),
    "territory": ("片区", "所属片区", "辖区"),
    "notes": ("备注", "说明", "note", "remarks", "remark", "comment", "comments", "memo"),
    "birthday": ("生日", "出生日期", "dateofbirth", "dob", "birthdate"),
    "customer_since": ("成为客户日期", "客户起始日期", "首次合作日期", "合作开始日期", "签约日期", "since",
                       "customersincedate", "becamecustomer"),
    "owner": ("负责人", "业务员", "销售代表", "销售", "客户经理", "rep", "salesrep", "accountmanager"),
    "status": ("状态", "客户状态", "customerstatus"),
    "lifecycle_stage": ("生命周期", "生命周期阶段", "阶段", "stage", "lifecycle"),
    "tier": ("等级", "客户等级", "级别", "价值等级", "class", "grade"),
}

_REF_SYNONYMS: dict[str, tuple[str, ...]] = {
    "customer_id": ("客户id", "客户编号", "customer", "customerid"),
    "notes": ("备注", "note", "remarks", "comment"),
    "owner": ("负责人", "业务员", "rep"),
}

_SYNONYMS: dict[str, dict[str, tuple[str, ...]]] = {
    "customers": _CUSTOMER_SYNONYMS,
    "visits": {**_REF_SYNONYMS, "visited_at": ("拜访时间", "拜访日期", "日期", "date", "time"),
               "channel": ("方式", "渠道"), "purpose": ("目的",), "outcome": ("结果",),
               "next_action": ("下一步",), "next_action_date": ("下次日期", "下次跟进日期"),
               "contact_ids": ("联系人", "拜访对象", "contacts")},
    "complaints": {**_REF_SYNONYMS, "received_at": ("投诉时间", "日期", "date", "received"),
                   "type": ("类型", "投诉类型"), "cause": ("原因",), "product": ("产品",),
                   "description": ("描述", "内容", "投诉内容"), "priority": ("优先级",),
                   "status": ("状态",), "handler": ("处理人",), "resolution": ("解决方案", "处理结果")},
    "products": {"sku": ("编号", "产品编号", "货号", "物料编码", "商品编码", "型号", "code", "itemcode",
                         "productcode", "partnumber"),
                 "name": ("名称", "产品名称", "品名", "商品名称", "product", "productname"),
                 "category": ("类别", "分类", "产品类别", "品类", "productcategory"),
                 "unit": ("单位", "计量单位", "uom"),
                 "list_price": ("价格", "单价", "标价", "目录价", "价目", "price", "unitprice"),
                 "active": ("启用", "有效", "在售", "isactive", "enabled"),
                 "notes": ("备注", "说明", "note", "remarks")},
    "contacts": {**_REF_SYNONYMS, "name": ("姓名", "名字", "联系人", "联系人姓名", "fullname", "contactname"),
                 "title": ("职位", "职务", "头衔", "jobtitle", "position"),
                 "department": ("部门", "所属部门", "dept"),
                 "phone": ("电话", "座机", "办公电话", "telephone", "tel", "workphone"),
                 "mobile": ("手机", "手机号", "手机号码", "移动电话", "cell", "cellphone"),
                 "email": ("邮箱", "电子邮件", "电子邮箱", "邮件", "e-mail", "mail"),
                 "wechat": ("微信", "微信号", "weixin"),
                 "role": ("角色", "决策角色", "采购角色", "buyingrole"),
                 "attitude": ("态度", "立场", "stance")},
    "orders": {**_REF_SYNONYMS, "ordered_at": ("下单日期", "日期", "订单日期", "date", "orderdate"),
               "product": ("产品", "商品", "产品名称"), "quantity": ("数量", "qty"),
               "amount": ("金额", "总额", "订单金额", "total", "price", "value")},
    "opportunities": {**_REF_SYNONYMS,
                      "title": ("标题", "商机", "商机名称", "项目", "项目名称", "名称", "opportunity", "deal", "name"),
                      "amount": ("金额", "预计金额", "商机金额", "合同金额", "value", "dealvalue"),
                      "stage": ("阶段", "销售阶段", "商机阶段", "dealstage"),
                      "probability": ("概率", "赢率", "赢单率", "成交概率", "赢单概率", "winprobability",
                                      "probabilitypercent"),
                      "close_date": ("预计成交日期", "预计签约日期", "成交日期", "closedate", "expectedclose"),
                      "source": ("来源", "商机来源", "leadsource"),
                      "next_step": ("下一步", "下一步计划", "nextstep"),
                      "next_step_date": ("下一步日期", "nextstepdate"),
                      "lost_reason": ("输单原因", "丢单原因", "lostreason"),
                      "product_ids": ("产品", "意向产品", "products")},
}
# Orders with lines, one row per line (crm_tui.domain.orders.ORDER_LINE_ROW).
_SYNONYMS["order_line_rows"] = {
    **_REF_SYNONYMS, "order": ("订单号", "订单编号", "单号", "订单", "orderno", "ordernumber", "orderkey", "orderid"),
    "ordered_at": ("下单日期", "日期", "订单日期", "date", "orderdate"),
    "status": ("状态", "订单状态", "orderstatus"),
    "refund_of": ("退款原单", "退款原单号", "原订单号", "原订单", "原单号", "refundof", "originalorder"),
    "sku": ("产品编号", "编号", "货号", "物料编码", "商品编码", "型号", "code", "itemcode", "productcode"),
    "product": ("产品", "商品", "产品名称", "品名", "商品名称", "productname"),
    "quantity": ("数量", "qty"), "unit_price": ("单价", "价格", "price", "unitprice"),
    "discount": ("折扣", "折扣%", "折扣率", "discountpercent"),
}

# Quotations with lines, one row per line (crm_tui.domain.quotes.QUOTE_LINE_ROW).
_SYNONYMS["quote_line_rows"] = {
    **_REF_SYNONYMS, "quote": ("报价单号", "报价单编号", "报价编号", "报价单", "quoteno", "quotenumber", "quoteid"),
    "opportunity_id": ("商机", "商机编号", "opportunity", "opportunityid"),
    "title": ("标题", "报价标题", "名称"),
    "quoted_on": ("报价日期", "日期", "date", "quotedate"),
    "valid_until": ("有效期至", "有效期", "有效日期", "validuntil", "expires"),
    "status": ("状态", "报价状态"),
    "terms": ("条款", "付款条件", "交易条款", "商务条款"),
    "order_id": ("订单编号", "订单号", "orderid"),
    "position": ("序号", "行号", "line", "lineno"),
    "sku": ("产品编号", "编号", "货号", "物料编码", "商品编码", "型号", "code", "itemcode", "productcode"),
    "product": ("产品", "商品", "产品名称", "品名", "商品名称", "productname"),
    "quantity": ("数量", "qty"), "unit_price": ("单价", "价格", "price", "unitprice"),
    "discount": ("折扣", "折扣%", "折扣率", "discountpercent"),
    "amount": ("金额", "小计", "行金额", "lineamount", "linetotal"),
}

_SEPARATORS = re.compile(r"[\s_\-./:：（）()]+")


def header_key(header: str) -> str:
    """The form headers are compared in: no BOM, no spaces or separators, lower case
    ('E-mail ' -> 'email', '手机 号码' -> '手机号码')."""
    return _SEPARATORS.sub("", header.replace("\ufeff", "").strip().lower())


def synonyms(ent: Entity) -> dict[str, str]:
    """Normalised header -> field name for one record kind."""
    table: dict[str, str] = {}
    for name, words in _SYNONYMS.get(ent.table, {}).items():
        for word in words:
            table[header_key(word)] = name
    # The labels the UI and the exports show, in every language, unless a synonym above
    # already means another field (an exported workbook's headers map back).
    for lang in LANGUAGES:
        for f in ent.fields:
            label = catalog(lang).get(f"field.{ent.table}.{f.name}") or catalog(lang).get(f"field.{f.name}")
            if label:
                table.setdefault(header_key(label), f.name)
    # A field's own name and label win over any synonym.
    for f in ent.fields:
        table[header_key(f.name)] = f.name
        if f.label:
            table[header_key(f.label)] = f.name
    table[header_key("owner")] = "owner"
    table[header_key("id")] = "id"
    for stamp in STAMP_COLUMNS:
        table[header_key(stamp)] = stamp
    return table


@dataclass
class HeaderMapping:
    """Which column of the file feeds which field."""

    columns: dict[int, str] = field(default_factory=dict)  # column index -> field name
    unknown: list[str] = field(default_factory=list)  # headers that map to nothing
    duplicate: list[str] = field(default_factory=list)  # headers that map to a field twice

    @property
    def fields(self) -> list[str]:
        return list(self.columns.values())


def map_headers(ent: Entity, headers: Sequence[str]) -> HeaderMapping:
    """Map each header to a field; blank headers (a trailing comma) are ignored."""
    table = synonyms(ent)
    mapping = HeaderMapping()
    seen: dict[str, str] = {}
    for index, header in enumerate(headers):
        key = header_key(header)
        if not key:
            continue
        name = table.get(key)
        if name is None:
            mapping.unknown.append(header.strip())
        elif name in seen:
            mapping.duplicate.append(f"{header.strip()} (also {seen[name]}, both mean {name})")
        else:
            seen[name] = header.strip()
            mapping.columns[index] = name
    return mapping


# CSV formula injection: a cell a spreadsheet would evaluate starts with one of these.
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
_FORMULA_CLASS = "[" + re.escape("".join(FORMULA_STARTS)) + "]"
_NEUTRALISED = re.compile("^'+" + _FORMULA_CLASS)
_NEEDS_QUOTE = re.compile("^'*" + _FORMULA_CLASS)
_E164 = re.compile(r"^\+[1-9]\d{6,14}$")


def neutralise_cell(value: str, *, is_phone: bool = False) -> str:
    """A cell safe to open in a spreadsheet: a leading ' so = + - @ TAB CR are text.

    Values already starting with quotes before such a character get one more, so the
    import can undo exactly one (`restore_cell`) and round trips stay exact. A phone
    in strict E.164 ('+8613812345678') holds only '+' and digits, cannot be a
    formula, and is left as is so it stays dialable."""
    if is_phone and _E164.match(value):
        return value
    if _NEEDS_QUOTE.match(value):
        return "'" + value
    return value


def csv_cell(value: Any, *, is_phone: bool = False) -> str:
    """A value as a cell of any CSV the product writes (exports, reports, rejects
    files): text neutralised, numbers as they are (a number cannot be a formula)."""
    if value is None:
        return ""
    if isinstance(value, str):
        return neutralise_cell(value, is_phone=is_phone)
    return str(value)


def restore_cell(value: str) -> str:
    """Undo `neutralise_cell` on an imported CSV cell."""
    if _NEUTRALISED.match(value):
        return value[1:]
    return value


def join_notes(held: str | None, given: str) -> str:
    """Notes given for a record that already holds some, so that no text is lost: the
    held text when it already says the given one, the given text when it holds the
    held one whole (an edited copy of it), else both on two lines. The rule of an
    import's rows of one record, and of a row that updates a record of the book."""
    held_text, given_text = str(held or ""), str(given)
    if not held_text or given_text in held_text:
        return held_text or given_text
    if held_text in given_text:
        return given_text
    return f"{held_text}\n{given_text}"

