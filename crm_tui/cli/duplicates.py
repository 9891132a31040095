"""`crm customers duplicates`: probable duplicate customers with a score and the
reasons (整合和去重); `crm customers merge|unmerge|merges`: merging two of them into
one, undoing it, and the merges made."""


from typing import Annotated

import typer

from crm_tui.cli.common import (
    DbOpt,
    JsonOpt,
    console,
    counts_text,
    open_crm,
    print_json,
    print_record,
    print_table,
)
from crm_tui.domain.entities import CUSTOMER, MERGE
from crm_tui.i18n import choice_label, field_label, language, t


def add_duplicate_commands(sub: typer.Typer) -> None:
    @sub.command("duplicates", epilog="crm customers duplicates --min-score 0.8 --json")
    def duplicates(db: DbOpt = None, as_json: JsonOpt = False,
                   min_score: Annotated[float, typer.Option("--min-score", min=0.0, max=1.0)] = 0.0) -> None:
        from crm_tui.api.duplicates import find_duplicates

        with open_crm(db) as crm:
            pairs = find_duplicates(crm, min_score=min_score)
        if as_json:
            print_json(pairs)
            return
        # each customer as its name above its id, whole (the id goes into crm customers
        # merge): a pair and its reasons fit 94 columns, the pair alone 80
        print_table([{"score": p["score"], "first": f"{p['first_name'] or ''}\n{p['first']}",
                      "second": f"{p['second_name'] or ''}\n{p['second']}", "reasons": "; ".join(p["reasons"])}
                     for p in pairs],
                    ["score", "first", "second", "reasons"],
                    title=t("cli.say.duplicates_title"), caption=t("cli.say.duplicate_pairs", n=len(pairs)))

    @sub.command("merge", epilog="crm customers merge 01JB2X 01JC7Q --take email=other --take phone=keep")
    def merge(keep: Annotated[str, typer.Argument(metavar="KEEP")],
              other: Annotated[str, typer.Argument(metavar="OTHER")],
              take: Annotated[list[str] | None, typer.Option("--take", metavar="FIELD=other|keep")] = None,
              dry_run: Annotated[bool, typer.Option("--dry-run")] = False,
              db: DbOpt = None, as_json: JsonOpt = False) -> None:
        from crm_tui.domain.merging import parse_take

        choices = parse_take(take or [])
        with open_crm(db) as crm:
            if dry_run:
                rows = crm.merges.compare(keep, other)
                for row in rows:
                    row["side"] = choices.get(row["field"], row["side"])
                if as_json:
                    print_json(rows)
                else:
                    print_table([r for r in rows if not (r["same"] and r["keep"] is None)],
                                ["field", "keep", "other", "side"], title=t("merge.msg.dry_run_title"))
                return
            record = crm.merges.merge(keep, other, choices)
        if as_json:
            print_json(record)
            return
        console.print(t("merge.msg.merged", other=record["other_id"], keep=record["customer_id"], id=record["id"]),
                      highlight=False)

    @sub.command("unmerge", epilog="crm customers unmerge 01JD4M")
    def unmerge(merge_id: Annotated[str, typer.Argument(metavar="MERGE_ID")],
                db: DbOpt = None, as_json: JsonOpt = False) -> None:
        with open_crm(db) as crm:
            record = crm.merges.unmerge(merge_id)
        if as_json:
            print_json(record)
            return
        console.print(t("merge.msg.undone", other=record["other_id"]), highlight=False)

    @sub.command("merges", epilog="crm customers merges --customer 01JB2X --json")
    def merges(customer: Annotated[str | None, typer.Option("--customer")] = None,
               merge_id: Annotated[str | None, typer.Option("--id")] = None,
               db: DbOpt = None, as_json: JsonOpt = False) -> None:
        with open_crm(db) as crm:
            if merge_id:
                record = crm.merges.get(merge_id)
                print_json(record) if as_json else print_record(_readable_merge(record), "merges")
                return
            cid = crm.customers.get(customer)["id"] if customer else None
            rows = crm.merges.find(cid)
        if as_json:
            print_json(rows)
            return
        if language() != "en":  # the status by its name; in English its code, as --json and scripts have it
            rows = [{**r, "status": choice_label(MERGE, "status", r["status"])} for r in rows]
        print_table(rows, ["id", "merged_at", "customer_id", "other_id", "status", "owner"],
                    title=t("merge.msg.list_title"), caption=t("merge.msg.count", n=len(rows)))


def _readable_merge(record: dict) -> dict:
    """A merge as a person reads it: the records moved counted by kind, the fields
    taken from the merged customer with both values, the merged customer by name;
    --json keeps the stored JSON, which unmerge reads."""
    from crm_tui.domain.merging import loads

    moved = {table: len(ids) for table, ids in loads(record.get("moved")).items() if ids}
    taken = loads(record.get("taken"))
    other = loads(record.get("other_record"))
    return {**record, "moved": counts_text(moved) if moved else "",
            "taken": t("cli.list_sep").join(f"{field_label(CUSTOMER, name)}{t('sep.label')}"
                                            f"{'—' if kept is None else kept} → {theirs}"
                                            for name, (kept, theirs) in sorted(taken.items())),
            "other_record": " · ".join(str(other[k]) for k in ("name", "company") if other.get(k))}

