"""`crm customers duplicates`: probable duplicate customers with a score and the
reasons (整合和去重)."""

from __future__ import annotations

from typing import Annotated

import typer

from crm_tui.cli.common import DbOpt, JsonOpt, open_crm, print_json, print_table


def add_duplicate_commands(sub: typer.Typer) -> None:
    @sub.command("duplicates", help="Probable duplicate customers: the same phone or email, the same name and "
                                    "company, or names that sound alike at one company; with a score and the "
                                    "reasons.\n\nExample: crm customers duplicates --min-score 0.8 --json")
    def duplicates(db: DbOpt = None, as_json: JsonOpt = False,
                   min_score: Annotated[float, typer.Option("--min-score", min=0.0, max=1.0,
                                                            help="Only pairs scoring at least this.")] = 0.0) -> None:
        from crm_tui.api.duplicates import find_duplicates

        with open_crm(db) as crm:
            pairs = find_duplicates(crm, min_score=min_score)
        if as_json:
            print_json(pairs)
            return
        print_table([{**p, "reasons": "; ".join(p["reasons"])} for p in pairs],
                    ["score", "first", "first_name", "second", "second_name", "reasons"],
                    title="probable duplicates", caption=f"{len(pairs)} pairs")
