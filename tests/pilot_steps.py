"""Steps the TUI tests take with Textual's Pilot, in one place: letting the app's
workers finish, and picking an entry from the command palette once its background
search has found it (under load a fixed pause saw an earlier prefix's hits)."""

from __future__ import annotations

from typing import Any

# Bounded waits: at most this many pauses of PAUSE seconds.
TRIES, PAUSE = 100, 0.05


async def settle(pilot: Any, rounds: int = 4) -> None:
    """Let workers finish and their results reach the screen."""
    for _ in range(rounds):
        await pilot.app.workers.wait_for_complete()
        await pilot.pause()


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
