"""A form for any record kind, built from the fields in `crm_tui.domain.entities`.

The form does not validate: it hands the typed text to a save call of the API (in a
thread worker) and shows each `ValidationError` next to its field. Escape with unsaved
changes asks first; Ctrl+O opens a long text in $EDITOR."""

from __future__ import annotations

import os
import shlex
import subprocess
import tempfile
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any, ClassVar

from rich.text import Text
from textual import events
from textual.app import ComposeResult, SuspendNotSupported
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.message import Message
from textual.widget import Widget
from textual.widgets import Button, Input, Label, Select, Static, TextArea

from crm_tui.api import Record, ValidationError
from crm_tui.domain.entities import Entity, Field
from crm_tui.i18n import choice_label, field_label, has, t
from crm_tui.screens.base import CrmModal, describe_error
from crm_tui.screens.modals import ConfirmScreen
from crm_tui.widgets.footer import CrmFooter
from crm_tui.widgets.literal import tell

Save = Callable[[dict[str, Any]], Record]


def display_value(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, float):
        return f"{value:.2f}"
    return str(value)


class OneLineInput(Input):
    """The box of a one-line field. Textual's Input keeps only the first line of a
    paste and drops the rest without a word (张\n伟 saved as 张): a paste of several
    lines is refused instead, as the field's rule refuses a line break, and the box
    keeps what it held."""

    class Refused(Message):
        def __init__(self, box: OneLineInput, reason: str) -> None:
            super().__init__()
            self.box = box
            self.reason = reason

    def _on_paste(self, event: events.Paste) -> None:
        # Textual calls Input's own handler after this one unless the default is prevented
        if len(event.text.splitlines()) > 1:
            event.prevent_default()
            event.stop()
            self.post_message(self.Refused(self, t("validation.one_line.line_break")))


class FormScreen(CrmModal[Record | None]):
    """Create or edit one record. Returns the saved record, or None when left."""

    DEFAULT_CSS = """
    FormScreen { align: center middle; }
    FormScreen > #form-box { width: 90; max-width: 100%; height: 90%; border: thick $primary; background: $surface; padding: 0 1; }
    FormScreen #form-title { text-style: bold; padding: 0 0 1 0; }
    FormScreen #form-context { color: $text-muted; padding: 0 0 1 0; }
    FormScreen .form-row { height: auto; margin: 0 0 1 0; }
    FormScreen .form-label { width: 20; padding: 0 1 0 0; }
    FormScreen .form-row Input, FormScreen .form-row Select { width: 1fr; }
    FormScreen .form-error { color: $error; height: auto; padding: 0 0 0 20; margin: -1 0 1 0; display: none; }
    FormScreen .form-error.-shown { display: block; }
    FormScreen TextArea { height: 5; width: 1fr; }
    FormScreen #form-buttons { height: auto; padding: 1 0 0 0; }
    FormScreen #form-buttons Button { margin: 0 2 0 0; }
    """
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("ctrl+s", "save", "key.save", id="form.save", priority=True),
        Binding("escape", "leave", "key.cancel", id="form.cancel"),
        Binding("ctrl+o", "external_editor", "key.editor", id="form.editor"),
    ]

    def __init__(self, entity: Entity, fields: Sequence[str], save: Save, *, title: str,
                 values: Mapping[str, Any] | None = None, context: str = "",
                 only_changes: bool = False, extra_fields: Sequence[Field] = (),
                 focus: str | None = None, choice_labels: Mapping[str, Mapping[str, str]] | None = None) -> None:
        super().__init__()
        self.entity = entity
        # field -> code -> label, for choices the catalog does not name (configured stages)
        self.choice_labels = choice_labels or {}
        self.extra = {f.name: f for f in extra_fields}
        self.field_names = list(fields)
        self.save_call = save
        self.title_text = title
        self.context = context
        self.only_changes = only_changes
        self.initial = {name: display_value((values or {}).get(name)) for name in self.field_names}
        self.saving = False
        self.first_focus = focus or (self.field_names[0] if self.field_names else None)

    def field(self, name: str) -> Field:
        return self.extra[name] if name in self.extra else self.entity.field(name)

    def label(self, name: str) -> str:
        return field_label(self.entity, name) if name not in self.extra else t(self.extra[name].label)

    def compose(self) -> ComposeResult:
        with Vertical(id="form-box"):
            yield Static(self.title_text, id="form-title", markup=False)
            if self.context:
                yield Static(self.context, id="form-context", markup=False)
            with VerticalScroll(id="form-fields"):
                for name in self.field_names:
                    f = self.field(name)
                    with Horizontal(classes="form-row"):
                        yield Label(self.label(name) + (" *" if f.required else ""), classes="form-label",
                                    id=f"label-{name}")
                        yield self._editor(f)
                    yield Static("", classes="form-error", id=f"error-{name}")
            with Horizontal(id="form-buttons"):
                yield Button(t("form.save"), variant="primary", id="form-save")
                yield Button(t("form.cancel"), id="form-cancel")
        yield CrmFooter()

    def _editor(self, f: Field) -> Widget:
        value = self.initial[f.name]
        wid = f"field-{f.name}"
        if f.kind == "enum":
            labels = self.choice_labels.get(f.name, {})
            options = [(labels.get(code) or choice_label(self.entity, f.name, code), code) for code in f.choices]
            return Select(options, value=value if value in f.choices else Select.NULL,
                          allow_blank=not f.required or value not in f.choices, id=wid,
                          prompt=t("form.choose"), compact=True)
        if f.kind == "bool":
            # yes or no, as the lists show it; the API reads the 1 / 0 chosen
            return Select([(t("form.flag.yes"), "1"), (t("form.flag.no"), "0")],
                          value=value if value in ("1", "0") else Select.NULL, allow_blank=not f.required,
                          id=wid, prompt=t("form.choose"), compact=True)
        if f.multiline:
            # a format to follow shows inside the box: as part of the label it would be
            # cut in the middle on a small terminal
            hint = t(f"form.hint.{f.name}") if has(f"form.hint.{f.name}") else ""
            return TextArea(value, id=wid, soft_wrap=True, show_line_numbers=False, placeholder=hint)
        placeholder = {"date": "YYYY-MM-DD", "datetime": "YYYY-MM-DD HH:MM", "tags": t("form.tags_hint"),
                       "phone": "138 0013 8000"}.get(f.kind, "")
        return OneLineInput(value, id=wid, placeholder=placeholder, compact=True)

    def on_mount(self) -> None:
        if self.first_focus:
            self.query_one(f"#field-{self.first_focus}").focus()

    # -- values ---------------------------------------------------------------------

    def current(self) -> dict[str, str]:
        values: dict[str, str] = {}
        for name in self.field_names:
            widget = self.query_one(f"#field-{name}")
            if isinstance(widget, Select):
                values[name] = "" if widget.value in (Select.NULL, None) else str(widget.value)
            elif isinstance(widget, TextArea):
                values[name] = widget.text
            else:
                values[name] = widget.value  # type: ignore[attr-defined]
        return values

    @property
    def dirty(self) -> bool:
        return self.current() != self.initial

    def changes(self) -> dict[str, Any]:
        values = self.current()
        if self.only_changes:
            values = {k: v for k, v in values.items() if v != self.initial[k]}
        return {k: (v if v.strip() else None) for k, v in values.items()}

    # -- saving ---------------------------------------------------------------------

    def action_save(self) -> None:
        if self.saving:
            return
        self.clear_errors()
        values = self.changes()
        if self.only_changes and not values:
            self.dismiss(None)
            return
        self.saving = True
        self.run_db(lambda: self.save_call(values), self.saved, failed=self.save_failed, group="form-save")

    def saved(self, record: Record) -> None:
        self.saving = False
        tell(self, t("form.saved"), timeout=3)
        self.dismiss(record)

    def save_failed(self, exc: BaseException) -> None:
        self.saving = False
        if not isinstance(exc, ValidationError):
            tell(self, describe_error(exc, self.entity), title=t("error.title"), severity="error", timeout=8)
            return
        first: str | None = None
        elsewhere = []
        for err in exc.errors:
            if err.field in self.field_names:
                self.show_field_error(err.field, err.reason)
                first = first or err.field
            else:
                elsewhere.append(err)
        if elsewhere:
            tell(self, describe_error(ValidationError(elsewhere), self.entity), title=t("error.title"),
                 severity="error", timeout=8)
        if first is not None:
            self.bring_error_into_view(first)

    def show_field_error(self, name: str, reason: str) -> None:
        error = self.query_one(f"#error-{name}", Static)
        error.update(Text(f"⚠ {reason}"))
        error.add_class("-shown")

    def bring_error_into_view(self, name: str) -> None:
        field, error = self.query_one(f"#field-{name}"), self.query_one(f"#error-{name}", Static)
        field.focus()
        # the reason shows under the field once laid out: bring both into view (on
        # 80x24 a tall field's reason fell below the edge, and Ctrl+S seemed to do nothing)
        field.scroll_visible()
        self.call_after_refresh(error.scroll_visible)

    def on_one_line_input_refused(self, message: OneLineInput.Refused) -> None:
        name = (message.box.id or "").removeprefix("field-")
        self.show_field_error(name, message.reason)
        self.bring_error_into_view(name)

    def clear_errors(self) -> None:
        for name in self.field_names:
            error = self.query_one(f"#error-{name}", Static)
            error.update("")
            error.remove_class("-shown")

    def errors_shown(self) -> dict[str, str]:
        """Field -> the error shown beside it (for tests and the help text)."""
        shown = {}
        for name in self.field_names:
            text = str(self.query_one(f"#error-{name}", Static).render())
            if text.strip():
                shown[name] = text
        return shown

    # -- leaving --------------------------------------------------------------------

    def action_leave(self) -> None:
        if not self.dirty:
            self.dismiss(None)
            return

        def answered(discard: bool | None) -> None:
            if discard:
                self.dismiss(None)

        self.app.push_screen(ConfirmScreen(t("form.discard_question"), yes=t("form.discard"), no=t("form.keep")),
                             answered)

    def on_button_pressed(self, event: Button.Pressed) -> None:
        event.stop()
        if event.button.id == "form-save":
            self.action_save()
        else:
            self.action_leave()

    # -- $EDITOR --------------------------------------------------------------------

    def action_external_editor(self) -> None:
        """Edit a long text in $VISUAL/$EDITOR: the focused one, else the form's first
        long field (the notes), else the focused one-line field."""
        focused = self.focused
        widget: Input | TextArea | None = focused if isinstance(focused, TextArea) else None
        if widget is None:
            long_fields = self.query(TextArea)
            widget = long_fields.first() if long_fields else (focused if isinstance(focused, Input) else None)
        if widget is None:
            return
        text = widget.text if isinstance(widget, TextArea) else widget.value
        editor = os.environ.get("VISUAL") or os.environ.get("EDITOR") or "vi"
        with tempfile.NamedTemporaryFile("w", suffix=".txt", delete=False, encoding="utf-8") as fh:
            fh.write(text)
            path = Path(fh.name)
        try:
            with self.app.suspend():
                subprocess.run([*shlex.split(editor), str(path)], check=False)
            new_text = path.read_text(encoding="utf-8")
        except SuspendNotSupported:
            tell(self, t("form.no_editor_here"), severity="warning")
            return
        except OSError as exc:
            tell(self, t("form.editor_failed", editor=editor, message=str(exc)), severity="error")
            return
        finally:
            path.unlink(missing_ok=True)
        new_text = new_text.rstrip("\n")
        if isinstance(widget, TextArea):
            widget.text = new_text
        else:
            widget.value = new_text.replace("\n", " ")
        self.refresh()
