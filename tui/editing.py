"""Editing from the browser: descriptions (e) and tags (t, d), each confirmed first, written in a
worker. Mixed into ``BrowserApp``; in read-only mode these keys are hidden and refused."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from textual import work
from textual.worker import get_current_worker

from lakebox.tui.model import KIND_TITLES, Overview, ReadOnlyError, Ref, fmt
from lakebox.tui.screens import ConfirmScreen, DescriptionScreen, TagScreen, UntagScreen

if TYPE_CHECKING:
    from lakebox.tui.detail import AssetDetail
    from lakebox.tui.source import Source


class EditingMixin:
    """The editing actions of ``BrowserApp`` (which provides the rest of these names)."""

    if TYPE_CHECKING:
        source: Source
        read_only: bool
        current: Ref | None

        @property
        def detail(self) -> AssetDetail: ...
        def notify(self, message: str, **kwargs: Any) -> None: ...
        push_screen: Callable[..., Any]
        def report(self, error: BaseException) -> None: ...
        def call_from_thread(self, callback: Callable[..., Any], *args: Any) -> Any: ...

    def _editable(self) -> Ref | None:
        if self.read_only:
            self.report(ReadOnlyError("The browser was started with --read-only: editing is off."))
            return None
        if self.current is None:
            self.notify("Choose an asset first.", severity="information", timeout=2)
            return None
        return self.current

    def _overview(self, ref: Ref) -> Overview | None:
        overview = self.detail.tab("overview").data  # type: ignore[attr-defined]
        if overview is None or overview.ref != ref:
            self.notify("Still loading; try again in a moment.", timeout=2)
            return None
        return overview

    def action_read_only_notice(self) -> None:
        self._editable()

    def action_edit_description(self) -> None:
        ref = self._editable()
        overview = self._overview(ref) if ref is not None else None
        if ref is None or overview is None:
            return
        if not overview.editable_description:
            self.notify(f"The description of a {KIND_TITLES[ref.kind]} cannot be changed.", severity="warning")
            return

        def confirm(text: str | None) -> None:
            if text is None or text == overview.description:
                return
            self.push_screen(
                ConfirmScreen(f"Change the description of {ref.title}?", f"new: {text or '(empty)'}"),
                lambda yes: self.apply_edit(ref, "description", text) if yes else None,
            )

        self.push_screen(DescriptionScreen(ref.title, overview.description), confirm)

    def action_add_tag(self) -> None:
        ref = self._editable()
        if ref is None:
            return

        def confirm(result: tuple[str, Any] | None) -> None:
            if result is None:
                return
            key, value = result
            self.push_screen(
                ConfirmScreen(f"Set the tag {key} = {fmt(value)} on {ref.title}?"),
                lambda yes: self.apply_edit(ref, "tag", (key, value)) if yes else None,
            )

        self.push_screen(TagScreen(ref.title), confirm)

    def action_delete_tag(self) -> None:
        ref = self._editable()
        overview = self._overview(ref) if ref is not None else None
        if ref is None or overview is None:
            return
        if not overview.tags:
            self.notify(f"{ref.title} has no tags.", severity="information", timeout=3)
            return

        def confirm(key: str | None) -> None:
            if key is None:
                return
            self.push_screen(
                ConfirmScreen(f"Delete the tag {key} of {ref.title}?"),
                lambda yes: self.apply_edit(ref, "untag", key) if yes else None,
            )

        self.push_screen(UntagScreen(ref.title, overview.tags), confirm)

    @work(thread=True, group="edit", exit_on_error=False)
    def apply_edit(self, ref: Ref, what: str, value: Any) -> None:
        worker = get_current_worker()
        try:
            if what == "description":
                self.source.set_description(ref, value)
                message = "Description saved."
            elif what == "tag":
                self.source.set_tag(ref, value[0], value[1])
                message = f"Tag {value[0]} set."
            else:
                self.source.delete_tag(ref, value)
                message = f"Tag {value} deleted."
            error = None
        except Exception as e:  # shown as a notification
            message, error = "", e
        if not worker.is_cancelled:
            self.call_from_thread(self._edited, ref, message, error)

    def _edited(self, ref: Ref, message: str, error: BaseException | None) -> None:
        if error is not None:
            self.report(error)
            return
        self.notify(message, title=ref.title, timeout=3)
        if ref == self.current:
            self.detail.tab("overview").invalidate()
