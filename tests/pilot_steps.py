"""Steps the TUI tests take with Textual's Pilot, in one place: letting the app's
workers finish, waiting (bounded) for what a step brings about, reading the top bar,
and picking an entry from the command palette once its background
search has found it (under load a fixed pause saw an earlier prefix's hits)."""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from typing import Any

from rich.cells import cell_len
from rich.text import Text
from textual.worker import WorkerCancelled

# Bounded waits: at most this many pauses of PAUSE seconds.
TRIES, PAUSE = 100, 0.05


async def workers_done(app: Any) -> None:
    """Wait until every worker of the app has ended. A worker cancelled by a newer one
    of its exclusive group (a screen reloading twice in a row) has ended too: waiting
    for all of them at once raised WorkerCancelled when the race went that way."""
    for worker in list(app.workers):
        with contextlib.suppress(WorkerCancelled):
            await worker.wait()


async def settle(pilot: Any, rounds: int = 4) -> None:
    """Let workers finish and their results reach the screen."""
    for _ in range(rounds):
        await workers_done(pilot.app)
        await pilot.pause()


async def wait_for(pilot: Any, condition: Callable[[], object], what: str) -> None:
    """Let the app run until `condition` holds, bounded (TRIES pauses of PAUSE s, its
    workers waited for each time); else fail naming `what` never happened."""
    for _ in range(TRIES * 2):
        await workers_done(pilot.app)
        await pilot.pause(PAUSE)
        if condition():
            return
    raise AssertionError(f"never happened: {what}")


async def pick_from_palette(pilot: Any, query: str, expect: str) -> None:
    """Open the palette, type `query`, wait (bounded) until its first hit names
    `expect`, and choose it."""
    await pilot.press("ctrl+p")
    await pilot.pause()
    await pilot.press(*query)
    for _ in range(TRIES):
        await pilot.pause(PAUSE)
        lists = pilot.app.screen.query("CommandList")
        if lists and lists.first().option_count and expect in str(lists.first().get_option_at_index(0).prompt):
            break
    else:
        raise AssertionError(f"the palette found no {expect!r} for {query!r}")
    await pilot.press("enter")
    await settle(pilot)


def top_bar(app: Any) -> str:
    """The screen's top bar (its keys, #nav) as the rep reads it, checked whole: not
    cut at its edge."""
    nav = app.screen.query_one("#nav")
    plain = Text.from_markup(str(nav.content)).plain
    assert cell_len(plain) <= nav.region.width, plain
    return plain
