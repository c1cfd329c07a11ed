"""Buttons and modals: Discord's components for the core's actions and prompts.

Buttons are persistent without any stored state: a button's ``custom_id`` is the core's
action id itself (``case:CASE-12:claim``, ``case:CASE-12:rate:4``, ``eng:ENG-3:follow``),
and one :class:`discord.ui.DynamicItem` whose template is the core's grammar
(:data:`bot.actions.PATTERN`) is registered on the client, so a button pressed on a
message posted before a restart is routed exactly like a fresh one.

Modals are sent "stopped" (discord.py keeps no object waiting for them) and their
submissions are read from the raw interaction payload; the modal's ``custom_id`` carries
the core's form id (``casebot-form:reject:CASE-3``), so a form opened before a restart
is still understood after it.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from typing import Any, Protocol

import discord

from adapters.discord import text as t
from bot.actions import PATTERN
from bot.exchange import Prompt, PromptField
from bot.messages import Action, Style

# Ids the adapter itself puts on buttons (not core actions): a "Continue" button that
# reopens a form. Core action ids are "<subject>:<key>:<action>", never "discord:…".
OWN_PREFIX = "discord:"
FORM_BUTTON_PREFIX = OWN_PREFIX + "form:"
FORM_PREFIX = "casebot-form:"

# The core's button grammar (bot.actions), or one of the adapter's own ids.
_ACTION_TEMPLATE = re.compile(rf"(?P<action_id>{PATTERN}|{re.escape(OWN_PREFIX)}\S+)")

_STYLES = {
    Style.PRIMARY: discord.ButtonStyle.primary,
    Style.DANGER: discord.ButtonStyle.danger,
    Style.DEFAULT: discord.ButtonStyle.secondary,
}

MAX_ROWS = 5
PER_ROW = 5


class ButtonHandler(Protocol):
    async def button(self, interaction: discord.Interaction[Any], action_id: str) -> None: ...


class ActionButton(discord.ui.DynamicItem[discord.ui.Button[Any]], template=_ACTION_TEMPLATE):
    """Any button casebot posted; pressing it hands its action id to the client's
    ``casebot`` handler (see :mod:`adapters.discord.interactions`)."""

    def __init__(
        self,
        action_id: str,
        label: str = "…",
        style: discord.ButtonStyle = discord.ButtonStyle.secondary,
    ) -> None:
        super().__init__(discord.ui.Button(label=label, style=style, custom_id=action_id))
        self.action_id = action_id

    @classmethod
    async def from_custom_id(  # type: ignore[override]
        cls,
        interaction: discord.Interaction[Any],
        item: discord.ui.Item[Any],
        match: re.Match[str],
        /,
    ) -> ActionButton:
        label = getattr(item, "label", None) or "…"
        style = getattr(item, "style", discord.ButtonStyle.secondary)
        return cls(match["action_id"], label=label, style=style)

    async def callback(self, interaction: discord.Interaction[Any]) -> None:  # type: ignore[override]
        handler: ButtonHandler | None = getattr(interaction.client, "casebot", None)
        if handler is not None:
            await handler.button(interaction, self.action_id)


def button_fits(action_id: str) -> bool:
    return 0 < len(action_id) <= t.CUSTOM_ID_LIMIT and bool(_ACTION_TEMPLATE.fullmatch(action_id))


def action_view(actions: Sequence[Action]) -> discord.ui.View | None:
    """The core's actions as rows of buttons (at most 25; Discord's limit).

    The view is stopped before it is returned: it only describes components, and
    discord.py must not keep it in memory waiting for presses (ActionButton answers them).
    """
    buttons = [a for a in actions if button_fits(a.id)][: MAX_ROWS * PER_ROW]
    if not buttons:
        return None
    view = discord.ui.View(timeout=None)
    for index, action in enumerate(buttons):
        view.add_item(_button(action, row=index // PER_ROW))
    view.stop()
    return view


def _button(action: Action, *, row: int) -> ActionButton:
    item = ActionButton(
        action.id,
        label=t.one_line(action.label, t.BUTTON_LABEL_LIMIT) or "…",
        style=_STYLES.get(action.style, discord.ButtonStyle.secondary),
    )
    item.row = row
    return item


def single_button(custom_id: str, label: str, *, primary: bool = True) -> discord.ui.View:
    view = discord.ui.View(timeout=None)
    style = discord.ButtonStyle.primary if primary else discord.ButtonStyle.secondary
    view.add_item(
        ActionButton(custom_id, label=t.one_line(label, t.BUTTON_LABEL_LIMIT), style=style)
    )
    view.stop()
    return view


# -- modals -------------------------------------------------------------------------


def form_custom_id(form_id: str) -> str | None:
    custom_id = FORM_PREFIX + form_id
    return custom_id if len(custom_id) <= t.CUSTOM_ID_LIMIT else None


def form_id_of(custom_id: str) -> str | None:
    return custom_id[len(FORM_PREFIX) :] if custom_id.startswith(FORM_PREFIX) else None


def prompt_modal(prompt: Prompt, values: Mapping[str, str] | None = None) -> discord.ui.Modal:
    """A Discord modal for one of the core's prompts, prefilled with ``values``.

    Every field is a labelled component (Discord's Label, type 18): a text input, a
    paragraph, or a string select when the choices fit (at most 25); a longer list
    becomes a text input that names the choices.
    """
    custom_id = form_custom_id(prompt.form_id)
    if custom_id is None:
        raise ValueError(f"form id too long for a Discord modal: {prompt.form_id!r}")
    modal = discord.ui.Modal(
        title=t.one_line(prompt.title, t.MODAL_TITLE_LIMIT) or "casebot", custom_id=custom_id
    )
    for f in prompt.fields[:5]:  # Discord's limit; the core's forms have at most five
        previous = (values or {}).get(f.name)
        modal.add_item(
            discord.ui.Label(
                text=t.one_line(f.label, t.LABEL_LIMIT) or f.name, component=_input(f, previous)
            )
        )
    modal.stop()
    return modal


def _input(f: PromptField, previous: str | None) -> discord.ui.Item[Any]:
    if f.kind == "select" and 0 < len(f.options) <= t.SELECT_OPTIONS_MAX:
        return discord.ui.Select(
            custom_id=f.name,
            placeholder=t.one_line(f.placeholder, t.PLACEHOLDER_LIMIT) or None,
            required=f.required,
            min_values=1 if f.required else 0,
            max_values=1,
            options=[
                discord.SelectOption(
                    label=t.one_line(o.label, t.SELECT_OPTION_LIMIT) or o.value,
                    value=o.value[: t.SELECT_OPTION_LIMIT],
                    default=o.value == previous,
                )
                for o in f.options
            ],
        )
    placeholder = f.placeholder
    if f.kind == "select" and f.options:
        placeholder = placeholder or "One of: " + ", ".join(o.value for o in f.options)
    max_length = max(1, min(f.max_length, t.TEXT_INPUT_MAX))
    return discord.ui.TextInput(
        custom_id=f.name,
        style=discord.TextStyle.paragraph if f.kind == "textarea" else discord.TextStyle.short,
        placeholder=t.one_line(placeholder, t.PLACEHOLDER_LIMIT) or None,
        default=previous[:max_length] if previous else None,
        required=f.required,
        max_length=max_length,
    )


def modal_values(data: Mapping[str, Any] | None) -> dict[str, str]:
    """A modal submission's answers (``PromptField.name`` → text), from the raw payload.

    Handles both layouts Discord sends: labels (type 18, one component each) and the
    older action rows of text inputs. A select answers with its single chosen value.
    """
    values: dict[str, str] = {}
    for component in _walk((data or {}).get("components") or []):
        custom_id = component.get("custom_id")
        if not custom_id:
            continue
        if "value" in component:
            value = component.get("value")
            values[custom_id] = "" if value is None else str(value)
        elif "values" in component:
            chosen = component.get("values") or []
            values[custom_id] = ",".join(str(v) for v in chosen)
    return values


def _walk(components: Iterable[Mapping[str, Any]]) -> Iterable[Mapping[str, Any]]:
    for component in components:
        yield component
        inner = component.get("component")
        if isinstance(inner, Mapping):
            yield from _walk([inner])
        children = component.get("components")
        if isinstance(children, list):
            yield from _walk(children)
