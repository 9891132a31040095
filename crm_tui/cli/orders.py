"""`crm orders lines|refund` and the `--line SKU:QTY[:PRICE[:DISCOUNT%]]` option of
`crm orders add`: orders with lines from the command line. The API works out
amounts from the catalogue and checks every line; these commands only name them."""

from __future__ import annotations

from typing import Annotated, Any

import typer

from crm_tui.api import Crm, Record
from crm_tui.cli.common import DbOpt, JsonOpt, console, open_crm, print_json, print_record, print_table
from crm_tui.domain.orders import parse_line

IdArg = Annotated[str, typer.Argument(help="Order id (a unique prefix will do).")]
LINE_HELP = ("A line PRODUCT:QTY[:PRICE[:DISCOUNT%]]: a SKU of the catalogue (its list price unless "
             "PRICE is given) or, with PRICE, a product not in it; repeatable.")
LinesOpt = Annotated[list[str] | None, typer.Option("--line", "-l", help=LINE_HELP, show_default=False)]
LINE_COLUMNS = ["sku", "product", "quantity", "unit_price", "discount", "amount"]


def add_order(crm: Crm, data: dict[str, Any], lines: list[str]) -> Record:
    """`orders add` with --line: the order from its lines."""
    return crm.order_book.add(data, [parse_line(text) for text in lines])


def show_order(crm: Crm, record: Record, as_json: bool) -> None:
    lines = crm.order_book.lines(record["id"])
    if as_json:
        print_json({**record, "lines": lines})
        return
    print_record(record)
    print_table(lines, LINE_COLUMNS, title="lines")


def add_order_commands(sub: typer.Typer) -> None:
    @sub.command("lines", help="Show an order's lines, or with --line replace them (the amount follows).\n\n"
                               "Example: crm orders lines 01JE4K --line SN-100:2 --line 旧型号:1:300")
    def lines(order_id: IdArg, line: LinesOpt = None, db: DbOpt = None, as_json: JsonOpt = False) -> None:
        with open_crm(db) as crm:
            order = crm.orders.get(order_id)
            if line:
                order = crm.order_book.set_lines(order["id"], [parse_line(text) for text in line])
            show_order(crm, order, as_json)

    @sub.command("refund", help="Refund an order (退款): the given --line products returned, or all of it.\n\n"
                                "Example: crm orders refund 01JE4K --line SN-100:1 --notes 退货")
    def refund(order_id: IdArg, line: LinesOpt = None,
               date: Annotated[str | None, typer.Option("--date", help="Refund date (default today).",
                                                        show_default=False)] = None,
               notes: Annotated[str | None, typer.Option("--notes", help="Why.", show_default=False)] = None,
               db: DbOpt = None, as_json: JsonOpt = False) -> None:
        with open_crm(db) as crm:
            record = crm.order_book.refund(order_id, [parse_line(text) for text in line or []],
                                           ordered_at=date, notes=notes)
            if not as_json:
                console.print(f"refund order [bold]{record['id']}[/bold] of {record['refund_of']}: "
                              f"{record['amount']:.2f}", highlight=False, soft_wrap=True)
            show_order(crm, record, as_json)
