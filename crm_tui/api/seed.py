"""Realistic, reproducible demo data: customers with Chinese and English names, their
visits, complaints and orders over the last two years, with purchase patterns that
give the analytics something to find (loyal buyers, churned ones, prospects who
never bought). The same seed gives the same content (ids and stamps differ); dates
are relative to today. Everything is written in one transaction. The products sold
are a catalogue too (SKU, category, unit, list price), each order has its line, and
a few open deals have a quotation, so that every screen has something to show."""

from __future__ import annotations

import datetime as dt
import random
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from crm_tui.api.records import Filter, Record
from crm_tui.db import records as records_sql
from crm_tui.db import sync_state
from crm_tui.db.connection import transaction
from crm_tui.domain.complaints import SlaPolicy
from crm_tui.domain.entities import UNIT_PRICE_DECIMALS
from crm_tui.domain.search import pinyin_key
from crm_tui.domain.validation import ValidationError
from crm_tui.i18n import t

if TYPE_CHECKING:
    from crm_tui.api import Crm

SURNAMES = "王李张刘陈杨黄赵吴周徐孙马朱胡郭何林高罗郑梁谢宋唐许韩冯邓曹"
GIVEN = ("伟", "芳", "娜", "敏", "静", "丽", "强", "磊", "军", "洋", "勇", "艳", "杰", "娟", "涛",
         "明", "超", "华", "平", "刚", "秀英", "桂英", "建华", "志强", "晓东", "海燕", "婷婷", "子涵")
EN_FIRST = ("James", "Emma", "Oliver", "Sophia", "Liam", "Mia", "Noah", "Olivia", "Lucas", "Ava",
            "David", "Grace", "Daniel", "Chloe", "Michael", "Hannah")
EN_LAST = ("Smith", "Brown", "Wilson", "Taylor", "Clark", "Walker", "Wright", "Mitchell", "Turner",
           "Parker", "Evans", "Collins")
CITIES = {
    "华东": ("上海", "杭州", "南京", "苏州", "宁波", "合肥"),
    "华南": ("广州", "深圳", "东莞", "厦门", "佛山"),
    "华北": ("北京", "天津", "石家庄", "太原"),
    "华中": ("武汉", "长沙", "郑州"),
    "西南": ("成都", "重庆", "昆明", "贵阳"),
    "西北": ("西安", "兰州", "乌鲁木齐"),
    "东北": ("沈阳", "大连", "哈尔滨", "长春"),
}
REGION_WEIGHTS = {"华东": 30, "华南": 22, "华北": 18, "华中": 10, "西南": 10, "西北": 5, "东北": 5}
BRANDS = ("华信", "恒通", "锦程", "瑞丰", "宏达", "金桥", "天成", "博远", "众诚", "鼎盛", "远航", "新澳")
INDUSTRIES = {
    "制造业": "精密制造", "零售": "商贸", "医疗": "医疗器械", "教育": "教育科技", "金融": "投资",
    "物流": "物流", "IT/互联网": "信息技术", "餐饮": "餐饮管理", "建筑": "建设工程", "能源": "新能源",
}
EN_COMPANIES = ("Acme Trading Co.", "Pacific Rim Logistics", "Northstar Medical", "Bluewave Tech",
                "Golden Gate Foods", "Summit Energy Ltd.", "Harbor Retail Group")
TITLES = ("总经理", "采购经理", "采购专员", "销售总监", "技术主管", "财务经理", "行政主管", "运营经理",
          "董事长", "项目经理", "Purchasing Manager", "CEO", "Operations Director")
SOURCES = ("展会", "转介绍", "官网", "电话营销", "广告", "老客户推荐", "微信", "地推")
TAGS = ("VIP", "老客户", "转介绍", "展会", "重点跟进", "价格敏感", "新品意向", "大客户")
REPS = ("wangfang", "liqiang", "zhaomin", "chenjie")
MAIL_DOMAINS = ("qq.com", "163.com", "126.com", "sina.com", "gmail.com")
MOBILE_PREFIXES = (*range(130, 140), 150, 151, 152, 155, 156, 157, 158, 159, *range(180, 190))
PRODUCTS = (("工业传感器", 800, 3000), ("PLC控制器", 3000, 12000), ("办公耗材套装", 100, 600),
            ("服务器维保服务", 5000, 30000), ("软件年度订阅", 2000, 20000), ("包装材料", 200, 2000),
            ("智能仪表", 1500, 6000))
VISIT_OUTCOMES = ("客户有采购意向", "需要报价", "已签单", "暂无需求", "约定下次面谈", "介绍了新产品",
                  "客户反馈良好", "客户考虑竞品")
NEXT_ACTIONS = ("发送报价单", "安排技术交流", "回访确认需求", "寄送样品", "节日问候", "跟进付款")
COMPLAINTS = {
    "product_quality": ("产品质量问题", "部分产品有划痕，要求换货"),
    "delivery": ("配送延迟", "货物比约定晚到一周"),
    "service_attitude": ("服务态度", "客服回复不及时，态度冷淡"),
    "price": ("价格争议", "发票价格与报价不一致"),
    "billing": ("账单错误", "重复扣款"),
    "other": ("其他", "安装人员未按约定时间上门"),
}
# Purchase patterns and their share of customers.
PATTERNS = (("prospect", 25), ("new", 12), ("loyal", 30), ("occasional", 18), ("churned", 15))
Progress = Callable[[str, int, int], None]
# The catalogue of those products: name -> (SKU, category, unit); list price is the
# middle of its price range. SKUs apart from the README's and docs' examples (SN-100),
# which add their own products to the demo.
CATALOGUE = {"工业传感器": ("SN-110", "传感器", "个"), "PLC控制器": ("PLC-210", "控制器", "台"),
             "办公耗材套装": ("OF-310", "办公耗材", "套"), "服务器维保服务": ("SV-410", "服务", "年"),
             "软件年度订阅": ("SW-510", "软件", "年"), "包装材料": ("PK-610", "包装", "箱"),
             "智能仪表": ("MT-710", "仪表", "台")}
QUOTES = 5  # open deals given a quotation
REFUNDS = 6  # orders of several units one of which came back (退款)


@dataclass
class SeedReport:
    customers: int = 0
    visits: int = 0
    complaints: int = 0
    orders: int = 0
    opportunities: int = 0
    opportunity_stages: int = 0
    targets: int = 0
    surveys: int = 0
    products: int = 0
    order_lines: int = 0
    quotes: int = 0

    def as_dict(self) -> dict[str, int]:
        return {"customers": self.customers, "visits": self.visits, "complaints": self.complaints,
                "orders": self.orders, "opportunities": self.opportunities, "products": self.products,
                "quotes": self.quotes}


class _Generator:
    """Makes the raw field values; the API's `prepare` validates and stamps them."""

    def __init__(self, seed: int, today: dt.date, policy: SlaPolicy, now: dt.datetime | None = None):
        self.rng = random.Random(seed)
        self.today = today
        # What happened is never later than now (today's end when seeding another day)
        self.now = now if now is not None and now.date() == today else dt.datetime.combine(today, dt.time(23, 59))
        self.policy = policy  # the configured SLA: seeded due times are the ones the workflow gives
        # What reps did afterwards (follow-ups done, satisfaction surveys) draws from its own
        # stream, so adding it left the rest of a seed's content as it was.
        self.aftercare = random.Random(f"aftercare-{seed}")

    def pick(self, items: Any) -> Any:
        return self.rng.choice(items)

    def weighted(self, pairs: Any) -> Any:
        names, weights = zip(*pairs, strict=True)
        return self.rng.choices(names, weights)[0]

    def chinese_name(self, index: int) -> str:
        # Several 张伟 (the most common full name) so search has look-alikes to tell apart.
        if index % 97 == 3 or self.rng.random() < 0.01:
            return "张伟"
        return self.pick(SURNAMES) + self.pick(GIVEN)

    def mobile(self) -> str:
        digits = f"{self.pick(MOBILE_PREFIXES)}{self.rng.randrange(10**8):08d}"
        # Typed the ways people type them; the API normalises to E.164.
        style = self.rng.randrange(3)
        if style == 0:
            return f"{digits[:3]} {digits[3:7]} {digits[7:]}"
        return ("+86 " if style == 1 else "") + digits

    def customer(self, index: int) -> tuple[dict[str, Any], str]:
        rng = self.rng
        english = rng.random() < 0.15
        region = self.weighted(REGION_WEIGHTS.items())
        city = self.pick(CITIES[region])
        industry = self.pick(tuple(INDUSTRIES))
        if english:
            name = f"{self.pick(EN_FIRST)} {self.pick(EN_LAST)}"
            company = self.pick(EN_COMPANIES)
            handle = name.lower().replace(" ", ".")
        else:
            name = self.chinese_name(index)
            company = f"{city}{self.pick(BRANDS)}{INDUSTRIES[industry]}有限公司"
            handle = pinyin_key(name).partition(" ")[0]  # 张伟 -> zhangwei
        pattern = self.weighted(PATTERNS)
        values: dict[str, Any] = {
            "name": name,
            "company": company,
            "title": self.pick(TITLES),
            "mobile": self.mobile(),
            "region": region,
            "industry": industry,
            "address": f"{city}市{self.pick(('人民路', '建设路', '中山路', '解放路', '科技园路'))}"
                       f"{rng.randrange(1, 999)}号",
            "company_size": self.pick(("micro", "small", "medium", "large", "enterprise")),
            "purchasing_power": self.pick(("low", "medium", "high")),
            "source": self.pick(SOURCES),
            "tags": ",".join(rng.sample(TAGS, rng.randrange(0, 3))),
            "territory": f"{city}片区",
            "owner": self.pick(REPS),
        }
        if rng.random() < 0.8:
            values["email"] = f"{handle}{rng.randrange(1, 999)}@{self.pick(MAIL_DOMAINS)}"
        if rng.random() < 0.3:
            values["phone"] = f"0{self.pick(('21', '10', '20', '755', '571', '28'))}-" \
                              f"{rng.randrange(2, 8)}{rng.randrange(10**7):07d}"
        if rng.random() < 0.4:
            values["wechat"] = f"wx_{handle}{rng.randrange(100)}"
        if rng.random() < 0.3:
            born = self.today - dt.timedelta(days=rng.randrange(25 * 365, 60 * 365))
            values["birthday"] = born.isoformat()
        if rng.random() < 0.2:
            values["notes"] = self.pick(("喜欢下午拜访", "决策需要老板同意", "对价格敏感", "关注售后服务",
                                         "Prefers email", "春节前有采购计划"))
        return values, pattern

    def order_days(self, pattern: str) -> list[int]:
        """Days ago of each order, by purchase pattern."""
        rng = self.rng
        if pattern == "prospect":
            return []
        if pattern == "new":
            return sorted(rng.sample(range(1, 90), rng.randrange(1, 3)), reverse=True)
        if pattern == "loyal":
            days, day = [], rng.randrange(600, 730)
            while day > 0:
                days.append(day)
                day -= rng.randrange(25, 90)
            return days
        if pattern == "occasional":
            return sorted(rng.sample(range(30, 700), rng.randrange(2, 5)), reverse=True)
        # churned: bought in the first year, silent for the last 200+ days
        return sorted(rng.sample(range(220, 730), rng.randrange(1, 6)), reverse=True)

    def order(self, customer_id: str, days_ago: int, owner: str, big: bool) -> dict[str, Any]:
        product, low, high = self.pick(PRODUCTS)
        quantity = self.rng.randrange(1, 20 if big else 6)
        unit = self.rng.randrange(low, high)
        return {"customer_id": customer_id, "ordered_at": (self.today - dt.timedelta(days=days_ago)).isoformat(),
                "product": product, "quantity": quantity, "amount": unit * quantity, "owner": owner}

    def at(self, days_ago: int) -> dt.datetime:
        day = self.today - dt.timedelta(days=days_ago)
        return self.past(dt.datetime.combine(day, dt.time(self.rng.randrange(9, 18), self.rng.choice((0, 15, 30, 45)))))

    def past(self, moment: dt.datetime) -> dt.datetime:
        """`moment`, or now if it is later: a complaint received this afternoon was
        not answered tomorrow. (A cap keeps the order of the times it caps.)"""
        return min(moment, self.now)

    def visit(self, customer_id: str, pattern: str, owner: str) -> dict[str, Any]:
        rng = self.rng
        days_ago = rng.randrange(0, 730) if pattern != "churned" else rng.randrange(150, 730)
        purpose = "win_back" if pattern == "churned" and rng.random() < 0.5 else self.weighted(
            (("visit", 40), ("follow_up", 35), ("care", 12), ("holiday_greeting", 8), ("win_back", 5)))
        visited = self.at(days_ago)
        values: dict[str, Any] = {
            "customer_id": customer_id,
            "visited_at": visited.isoformat(),
            "channel": self.weighted((("face_to_face", 40), ("phone", 30), ("wechat", 18), ("email", 6),
                                      ("sms", 3), ("other", 3))),
            "purpose": purpose,
            "outcome": self.pick(VISIT_OUTCOMES),
            "owner": owner,
        }
        if days_ago < 60 and rng.random() < 0.7:
            # Recent visits plan a next step: some due soon, some already overdue.
            values["next_action"] = self.pick(NEXT_ACTIONS)
            # Never before the visit that plans it (the visits' record rule): a step
            # drawn earlier is due on the visit's own day.
            due = max(self.today + dt.timedelta(days=rng.randrange(-20, 30)), visited.date())
            values["next_action_date"] = due.isoformat()
            # Most follow-ups already due were done; the rest are the agenda's overdue ones.
            values["follow_up_done"] = int(due < self.today and self.aftercare.random() < 0.6)
        elif days_ago >= 60:
            values["follow_up_done"] = 1
        return values

    def survey(self, customer_id: str, owner: str, pattern: str) -> dict[str, Any] | None:
        """A satisfaction survey (scores 1-10) of some buying customers in the last year:
        loyal customers mostly delighted, churned ones mostly dissatisfied."""
        rng = self.aftercare
        if pattern == "prospect" or rng.random() > (0.35 if pattern == "loyal" else 0.2):
            return None
        expected = rng.randrange(6, 10)
        shift = {"loyal": (-0.5, 2.0), "churned": (-3.0, 0.5)}.get(pattern, (-2.0, 1.5))
        perceived = min(10.0, max(1.0, round((expected + rng.uniform(*shift)) * 2) / 2))
        day = self.today - dt.timedelta(days=rng.randrange(0, 365))
        return {"customer_id": customer_id, "surveyed_at": day.isoformat(), "expected": expected,
                "perceived": perceived, "owner": owner}

    def complaint_survey(self, complaint: Record) -> dict[str, Any] | None:
        """The satisfaction follow-up of half the closed complaints, a few days after closing."""
        rng = self.aftercare
        if complaint.get("status") != "closed" or rng.random() > 0.5:
            return None
        closed = dt.date.fromisoformat(str(complaint["closed_at"])[:10])
        day = min(self.today, closed + dt.timedelta(days=rng.randrange(1, 6)))
        expected = rng.randrange(6, 10)
        perceived = min(10.0, max(1.0, round((expected + rng.uniform(-3.0, 1.0)) * 2) / 2))
        return {"customer_id": complaint["customer_id"], "surveyed_at": day.isoformat(), "expected": expected,
                "perceived": perceived, "complaint_id": complaint["id"], "owner": complaint["owner"]}

    def complaint(self, customer_id: str, owner: str) -> dict[str, Any]:
        rng = self.rng
        days_ago = rng.randrange(0, 700)
        received = self.at(days_ago)
        kind = self.pick(tuple(COMPLAINTS))
        cause, description = COMPLAINTS[kind]
        priority = self.weighted((("low", 25), ("medium", 45), ("high", 22), ("urgent", 8)))
        sla_hours = self.policy.resolution[priority].total_seconds() / 3600
        values: dict[str, Any] = {
            "customer_id": customer_id, "received_at": received.isoformat(),
            "channel": self.pick(("phone", "wechat", "email", "face_to_face")), "type": kind,
            "cause": cause, "description": description, "priority": priority,
            "handler": self.pick(REPS), "owner": owner,
            "due_at": self.policy.resolution_due(received.isoformat(), priority),
            "product": self.pick(PRODUCTS)[0],
        }
        if days_ago < 10:
            values["status"] = self.pick(("new", "acknowledged", "in_progress"))
        else:
            values["status"] = self.weighted((("closed", 60), ("resolved", 30), ("in_progress", 10)))
        if values["status"] != "new":
            values["acknowledged_at"] = self.past(received + dt.timedelta(hours=rng.randrange(1, 12))).isoformat()
            # Most first responses meet the SLA, some miss it.
            hours = rng.uniform(0.2, sla_hours * (1.6 if rng.random() < 0.2 else 0.9))
            values["first_response_at"] = self.past(received + dt.timedelta(hours=hours)).replace(microsecond=0).isoformat()
        if values["status"] in ("resolved", "closed"):
            resolved = self.past(received + dt.timedelta(hours=rng.randrange(2, 240)))
            values["resolved_at"] = resolved.isoformat()
            values["resolution"] = self.pick(("已换货", "已补发", "已退款", "已道歉并说明原因", "已上门维修"))
            values["root_cause"] = self.pick(("供应商批次问题", "物流外包延误", "客服培训不足", "系统计费错误"))
            if values["status"] == "closed":
                values["closed_at"] = self.past(resolved + dt.timedelta(days=rng.randrange(1, 7))).isoformat()
        return values


# -- opportunities ------------------------------------------------------------------------

DEALS = ("ERP 升级", "MES 一期", "仓储自动化", "年度耗材框架", "设备维保续约", "智能仪表改造", "数据中心扩容",
         "CRM rollout", "Sensor retrofit", "产线传感器替换", "软件订阅续费", "新厂区配套")
LOST_REASONS = ("价格太高", "选择了竞品", "预算取消", "项目延期", "需求变更", "决策人变动")
# How far open deals got, by the customer's purchase pattern (share of customers with one).
DEAL_SHARE = {"prospect": 0.5, "new": 0.35, "loyal": 0.4, "occasional": 0.25, "churned": 0.1}


class _DealGenerator:
    """Opportunities with a believable history: created some weeks ago, moved through
    the open stages a few days to weeks apart, then won, lost (with a reason) or still
    open; the move times and the win/loss dates are in the past."""

    def __init__(self, gen: _Generator, stages: tuple[str, ...]):
        self.gen = gen
        self.stages = stages  # the open stages, in order

    def deal(self, customer_id: str) -> tuple[dict[str, Any], int, list[tuple[str, str, int]]]:
        """(values, created days ago, [(from, to, days ago)])."""
        rng, today = self.gen.rng, self.gen.today
        created = rng.randrange(5, 330)
        amount = round(rng.choice((0.5, 1, 2, 5, 10, 20)) * rng.randrange(8, 40) * 1000, -2)
        # how far the deal went: later stages are rarer
        reach = min(int(rng.expovariate(0.7)), len(self.stages) - 1)
        day, moves, stage = created, [], self.stages[0]
        for nxt in self.stages[1:reach + 1]:
            day -= rng.randrange(2, 25)
            if day <= 0:
                break
            moves.append((stage, nxt, day))
            stage = nxt
        outcome = None
        if day > 3 and created > 45:
            # deals that got further are won more often; few are won before a proposal
            outcome = rng.choices(("won", "lost", None), (0.05 + 0.25 * reach, 0.5 - 0.08 * reach, 0.2))[0]
        values: dict[str, Any] = {"customer_id": customer_id, "title": rng.choice(DEALS), "amount": amount,
                                  "source": rng.choice(SOURCES)}
        if outcome:
            day = max(1, day - rng.randrange(1, 20))
            moves.append((stage, outcome, day))
            stage = outcome
            values["closed_on"] = (today - dt.timedelta(days=day)).isoformat()
            if outcome == "lost":
                values["lost_reason"] = rng.choice(LOST_REASONS)
            values["close_date"] = values["closed_on"]
        else:
            # expected close: mostly ahead, some already past (stale)
            values["close_date"] = (today + dt.timedelta(days=rng.randrange(-20, 120))).isoformat()
            values["next_step"] = rng.choice(NEXT_ACTIONS)
            values["next_step_date"] = (today + dt.timedelta(days=rng.randrange(0, 21))).isoformat()
        values["stage"] = stage
        return values, created, moves


def _seed_deals(crm: Crm, gen: _Generator, customers: list[tuple[str, str, str]]) -> dict[str, list[Record]]:
    """Opportunities of some customers ((id, owner, pattern)), their stage moves, and a
    quarter's target per rep and for the team."""
    settings = crm.pipeline.settings
    deals = _DealGenerator(gen, tuple(s.id for s in settings.open_stages))
    rows: dict[str, list[Record]] = {"opportunities": [], "opportunity_stages": [], "targets": []}
    moves_api = crm.opportunities.moves
    for cid, owner, pattern in customers:
        if gen.rng.random() >= DEAL_SHARE[pattern]:
            continue
        values, created, moves = deals.deal(cid)
        record = crm.opportunities.prepare(values, owner=owner)
        stamp = dt.datetime.combine(gen.today - dt.timedelta(days=created), dt.time(9, 30))
        record["created_at"] = stamp.strftime("%Y-%m-%dT%H:%M:%S.00Z")
        rows["opportunities"].append(record)
        for from_stage, to_stage, days_ago in moves:
            when = dt.datetime.combine(gen.today - dt.timedelta(days=days_ago), dt.time(gen.rng.randrange(9, 18)))
            rows["opportunity_stages"].append(moves_api.prepare({
                "opportunity_id": record["id"], "customer_id": cid, "from_stage": from_stage,
                "to_stage": to_stage, "moved_at": when.isoformat(), "rep": owner}, owner=owner))
    quarter = f"{gen.today.year}-Q{(gen.today.month - 1) // 3 + 1}"
    won = sum(r["amount"] for r in rows["opportunities"] if r["stage"] == "won")
    for rep in REPS:
        rows["targets"].append(_target(crm, rep, quarter, round(max(won, 100000) / len(REPS) * 1.5, -3)))
    rows["targets"].append(_target(crm, None, quarter, round(max(won, 100000) * 1.4, -3)))
    # Seeding a database seeded before (the README seeds more into the demo) keeps the
    # quarter's targets it has: a target's id is its rep and period.
    have = {r["id"] for r in crm.pipeline.targets_api.find([Filter("period", "=", quarter)])}
    rows["targets"] = [r for r in rows["targets"] if r["id"] not in have]
    return rows


def _target(crm: Crm, rep: str | None, quarter: str, amount: float) -> Record:
    from crm_tui.api.opportunities import target_id

    record = crm.pipeline.targets_api.prepare({"rep": rep, "period": quarter, "amount": amount})
    record["id"] = target_id(rep, quarter)
    return record


def _catalogue(crm: Crm) -> tuple[list[Record], dict[str, str]]:
    """The demo catalogue's products not yet in the database (seeding twice adds none),
    and product name -> id of all of them."""
    have = {p["sku"]: p["id"] for sku, _, _ in CATALOGUE.values() for p in crm.products.find([Filter("sku", "=", sku)])}
    new: list[Record] = []
    for name, low, high in PRODUCTS:
        sku, category, unit = CATALOGUE[name]
        if sku not in have:
            new.append(crm.products.prepare({"sku": sku, "name": name, "category": category, "unit": unit,
                                             "list_price": round((low + high) / 2, -1), "active": 1}))
            have[sku] = new[-1]["id"]
    return new, {name: have[CATALOGUE[name][0]] for name, _, _ in PRODUCTS}


def _order_line(crm: Crm, order: Record, product_ids: dict[str, str]) -> Record:
    """An order's one line: its product from the catalogue, quantity, unit price and
    amount as the order has them (so every figure is the order's)."""
    quantity = order["quantity"] or 1
    return crm.order_lines.prepare({
        "order_id": order["id"], "customer_id": order["customer_id"], "product_id": product_ids.get(order["product"]),
        "product": order["product"], "quantity": quantity, "unit_price": round(order["amount"] / quantity, UNIT_PRICE_DECIMALS),
        "amount": order["amount"]}, owner=order["owner"])


def _seed_quotes(crm: Crm, gen: _Generator, deals: list[Record], product_ids: dict[str, str]) -> int:
    """Quotations of a few open deals, sent last week, each of one or two catalogue
    products (through the quotation API: its totals and validity rules)."""
    from crm_tui.domain.orders import LineSpec

    rng = random.Random(gen.rng.random())  # its own stream: the rest of the data stays as it was
    skus = [CATALOGUE[name][0] for name in product_ids]
    open_deals = [d for d in deals if d["stage"] not in ("won", "lost")][:QUOTES]
    for deal in open_deals:
        lines = [LineSpec(sku, str(rng.randrange(1, 10))) for sku in rng.sample(skus, rng.randrange(1, 3))]
        crm.quote_book.add({"opportunity_id": deal["id"], "status": "sent", "terms": "预付30%，发货前付清余款",
                            "quoted_on": (gen.today - dt.timedelta(days=rng.randrange(1, 8))).isoformat()}, lines)
    return len(open_deals)


def _seed_refunds(crm: Crm, gen: _Generator, orders: list[Record]) -> int:
    """A few orders of the last year one unit of which came back, refunded a few days
    later (through the order book: lines, amounts and the rule that refunds never
    exceed their order), so the demo's figures show net amounts."""
    from crm_tui.domain.orders import LineSpec

    rng = random.Random(gen.rng.random())  # its own stream, as the quotations'
    year_ago = (gen.today - dt.timedelta(days=365)).isoformat()
    candidates = [o for o in orders if o["ordered_at"] >= year_ago and (o["quantity"] or 1) > 1]
    for order in rng.sample(candidates, min(REFUNDS, len(candidates))):
        ordered = dt.date.fromisoformat(order["ordered_at"][:10])
        back = min(gen.today, ordered + dt.timedelta(days=rng.randrange(3, 15)))
        [line] = crm.order_book.lines(order["id"])
        crm.order_book.refund(order["id"], [LineSpec(line.get("sku") or line["product"], "1")],
                              ordered_at=back.isoformat(), notes="退货一件")
    return min(REFUNDS, len(candidates))


def seed(crm: Crm, *, customers: int = 100, seed: int = 0, today: dt.date | None = None,
         progress: Progress | None = None) -> SeedReport:
    """Add `customers` demo customers with their visits, complaints and orders. The
    database is marked as holding made-up records, so `crm sync` refuses it (as the
    demo); one that has synced with a team's server is refused: its records are real."""
    with crm.lock:
        if sync_state.state(crm.conn)["server_id"] and not crm.is_demo:
            raise ValidationError.one("database", t("seed.synced_book", path=str(crm.path)))
    now = crm.now()
    gen = _Generator(seed, today or now.date(), crm.complaint_workflow.policy, now)
    rows: dict[str, list[Record]] = {"customers": [], "visits": [], "complaints": [], "orders": []}
    patterns: list[tuple[str, str, str]] = []
    for index in range(customers):
        values, pattern = gen.customer(index)
        customer = crm.customers.prepare(values)
        rows["customers"].append(customer)
        cid, owner = customer["id"], customer["owner"]
        patterns.append((cid, owner, pattern))
        days = gen.order_days(pattern)
        big = values["purchasing_power"] == "high"
        rows["orders"] += [crm.orders.prepare(gen.order(cid, d, owner, big)) for d in days]
        visits = {"prospect": (0, 3), "new": (1, 4), "loyal": (2, 8), "occasional": (1, 5),
                  "churned": (1, 4)}[pattern]
        rows["visits"] += [crm.visits.prepare(gen.visit(cid, pattern, owner))
                           for _ in range(gen.rng.randrange(*visits))]
        if gen.rng.random() < (0.25 if pattern in ("loyal", "churned") else 0.08):
            rows["complaints"] += [crm.complaints.prepare(gen.complaint(cid, owner))
                                   for _ in range(gen.rng.randrange(1, 4))]
        if progress and (index + 1) % 500 == 0:
            progress("generating", index + 1, customers)
    rows |= _seed_deals(crm, gen, patterns)
    surveys = [gen.survey(cid, owner, pattern) for cid, owner, pattern in patterns]
    surveys += [gen.complaint_survey(c) for c in rows["complaints"]]
    rows["surveys"] = [crm.analytics.surveys.prepare(s) for s in surveys if s is not None]
    catalogue, product_ids = _catalogue(crm)
    rows = {"products": catalogue, **rows,
            "order_lines": [_order_line(crm, order, product_ids) for order in rows["orders"]]}
    kinds = {"opportunity_stages": crm.opportunities.moves, "targets": crm.pipeline.targets_api,
             "surveys": crm.analytics.surveys, "order_lines": crm.order_lines}
    with crm.lock, transaction(crm.conn):
        records_sql.mark_made_up(crm.conn)  # with its records: never one without the other
        for table, records in rows.items():
            # The write funnel's bulk end: state rule, references, one statement.
            (kinds.get(table) or crm.records(table)).insert_prepared(records, bulk=True)
            if progress:
                progress("writing", len(records), len(records))
        refunds = _seed_refunds(crm, gen, rows["orders"])
    # Their classes, as `crm classify` computes them (the purchase patterns above make
    # loyal, new, churned and prospect customers appear by the rules, not by decree;
    # on net amounts, after the refunds).
    crm.analytics.ensure_classes()
    quotes = _seed_quotes(crm, gen, rows["opportunities"], product_ids)
    counts = {table: len(records) for table, records in rows.items()}
    counts["orders"] += refunds
    return SeedReport(**counts, quotes=quotes)
