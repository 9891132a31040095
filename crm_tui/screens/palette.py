"""The command palette (Ctrl+P): jump to a customer by name, pinyin or phone, go to a
screen, or run any action of the screen it was opened from."""

from __future__ import annotations

import asyncio
from functools import partial
from typing import TYPE_CHECKING

from textual.command import DiscoveryHit, Hit, Hits, Provider
from textual.content import Content

from crm_tui.i18n import t

if TYPE_CHECKING:
    from crm_tui.app import CrmApp


class CrmCommands(Provider):
    def _actions(self) -> list[tuple[str, str, object]]:
        """(label, help, callback) for the screen's keys and the screen switches."""
        app: CrmApp = self.app  # type: ignore[assignment]
        found: list[tuple[str, str, object]] = []
        seen: set[str] = set()
        for active in self.screen.active_bindings.values():
            binding = active.binding
            # a binding without an id is a Textual widget's own (an input's "Move cursor
            # left", a list's "Scroll Up"): a key to move about, in Textual's English, no command
            if not binding.description or not binding.id or binding.system or not active.enabled \
                    or binding.action in seen:
                continue
            if binding.action in ("command_palette", "quit"):
                continue
            seen.add(binding.action)
            key = app.get_key_display(binding)
            found.append((binding.description, key, partial(app.run_action, binding.action, active.node)))
        return found

    async def discover(self) -> Hits:
        for label, key, callback in self._actions():
            yield DiscoveryHit(label, callback, help=key)  # type: ignore[arg-type]

    async def search(self, query: str) -> Hits:
        matcher = self.matcher(query)
        for label, key, callback in self._actions():
            score = matcher.match(label)
            if score > 0:
                yield Hit(score, matcher.highlight(label), callback, text=label, help=key)  # type: ignore[arg-type]
        if not query.strip():
            return
        app: CrmApp = self.app  # type: ignore[assignment]
        # The database answers in a thread so that typing in the palette never waits on it.
        try:
            customers = await asyncio.to_thread(app.crm.customers.find, search=query, limit=8)
        except Exception:  # a half-typed query the search cannot use: no customer hits
            return
        for c in customers:
            label = t("palette.customer", name=c["name"], company=c.get("company") or "")
            # Content, not str: a name may hold "[" and must not be read as markup.
            yield Hit(0.9, Content(label), partial(app.open_customer, c["id"]), text=label,
                      help=" ".join(x for x in (c.get("phone") or c.get("mobile"), c.get("region")) if x))
