"""Modal screens: help, confirmation, editing a description, setting and deleting tags."""

from __future__ import annotations

import json
from typing import Any

from rich.table import Table as RichTable
from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Grid, Horizontal, Vertical
from textual.screen import ModalScreen
from textual.widgets import Button, Input, Label, OptionList, Static
from textual.widgets.option_list import Option

from lakebox.tui.keys import sections
from lakebox.tui.model import parse_tag_value
from lakebox.tui.widgets import KeyOptions, KeyScroll


def _keys_table(rows: list[tuple[str, str]]) -> RichTable:
    table = RichTable.grid(padding=(0, 2))
    table.add_column(style="bold", no_wrap=True, min_width=8)
    table.add_column(ratio=1)
    for key, what in rows:
        table.add_row(key, what)
    return table


class HelpScreen(ModalScreen[None]):
    """Every key, built from the bindings (``keys.sections``); read-only leaves out editing."""

    AUTO_FOCUS = "#help-scroll"
    BINDINGS = [
        Binding("escape,q,question_mark", "dismiss(None)", "Close"),
    ]

    def __init__(self, read_only: bool = False) -> None:
        super().__init__()
        self.read_only = read_only

    def compose(self) -> ComposeResult:
        with Vertical(id="help-box", classes="dialog"):
            yield Label("lakebox browser · keys", classes="dialog-title")
            with KeyScroll(id="help-scroll"):
                for title, rows in sections(self.read_only):
                    yield Label(title, classes="help-section")
                    yield Static(_keys_table(rows), classes="help-keys")
            yield Label("esc closes · ↑ ↓ j k scroll", classes="dialog-hint")


class ConfirmScreen(ModalScreen[bool]):
    """Asks yes or no; ``y`` / ``n`` answer, ``escape`` says no."""

    AUTO_FOCUS = "#yes"
    BINDINGS = [
        Binding("y", "answer(True)", "Yes"),
        Binding("n,escape", "answer(False)", "No"),
    ]

    def __init__(self, question: str, detail: str = "") -> None:
        super().__init__()
        self.question = question
        self.detail = detail

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog"):
            yield Label("Confirm", classes="dialog-title")
            yield Static(Text(self.question), id="confirm-question")
            if self.detail:
                yield Static(Text(self.detail), id="confirm-detail")
            with Horizontal(classes="dialog-buttons"):
                yield Button("Yes (y)", id="yes", variant="primary")
                yield Button("No (n)", id="no")

    @on(Button.Pressed)
    def _pressed(self, event: Button.Pressed) -> None:
        self.dismiss(event.button.id == "yes")

    def action_answer(self, answer: bool) -> None:
        self.dismiss(answer)


class DescriptionScreen(ModalScreen[str | None]):
    """Edit a description in one line; enter saves (after confirmation), escape cancels."""

    AUTO_FOCUS = "#description"
    BINDINGS = [Binding("escape", "dismiss(None)", "Cancel")]

    def __init__(self, title: str, text: str) -> None:
        super().__init__()
        self.title_text = title
        self.text = text

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog"):
            yield Label(Text(f"Description of {self.title_text}"), classes="dialog-title")
            yield Input(self.text, id="description", placeholder="what this asset holds and why")
            yield Label("enter saves · esc cancels", classes="dialog-hint")

    @on(Input.Submitted)
    def _submit(self, event: Input.Submitted) -> None:
        self.dismiss(event.value)


class TagScreen(ModalScreen[tuple[str, Any] | None]):
    """Ask for a tag key and value; the value is JSON when it parses, else text."""

    AUTO_FOCUS = "#tag-key"
    BINDINGS = [Binding("escape", "dismiss(None)", "Cancel")]

    def __init__(self, title: str) -> None:
        super().__init__()
        self.title_text = title

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog"):
            yield Label(Text(f"Tag {self.title_text}"), classes="dialog-title")
            with Grid(id="tag-grid"):
                yield Label("key")
                yield Input(id="tag-key", placeholder="e.g. owner")
                yield Label("value")
                yield Input(id="tag-value", placeholder='text, or JSON: 3, true, ["a"]')
            yield Label("enter saves · tab next field · esc cancels", classes="dialog-hint")

    @on(Input.Submitted, "#tag-key")
    def _next(self) -> None:
        self.query_one("#tag-value", Input).focus()

    @on(Input.Submitted, "#tag-value")
    def _submit(self) -> None:
        key = self.query_one("#tag-key", Input).value.strip()
        if not key:
            self.notify("A tag needs a key.", severity="warning")
            self.query_one("#tag-key", Input).focus()
            return
        self.dismiss((key, parse_tag_value(self.query_one("#tag-value", Input).value)))


class UntagScreen(ModalScreen[str | None]):
    """Choose one of the asset's tags to delete."""

    AUTO_FOCUS = "#untag-list"
    BINDINGS = [Binding("escape", "dismiss(None)", "Cancel")]

    def __init__(self, title: str, tags: dict[str, Any]) -> None:
        super().__init__()
        self.title_text = title
        self.tags = tags

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog"):
            yield Label(Text(f"Delete a tag of {self.title_text}"), classes="dialog-title")
            yield KeyOptions(
                *[Option(Text(f"{k} = {json.dumps(v, default=str)}"), id=k) for k, v in self.tags.items()],
                id="untag-list",
            )
            yield Label("enter deletes (after confirmation) · esc cancels", classes="dialog-hint")

    @on(OptionList.OptionSelected)
    def _chosen(self, event: OptionList.OptionSelected) -> None:
        self.dismiss(event.option.id)
