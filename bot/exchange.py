"""The types adapters exchange with the core: who acts and where (in), what they are told and the forms they are shown (out)."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class Context:
    """Who is acting, and where, as the platform told us.

    ``user_id`` is the platform's user id (Slack ``U…``, a Discord snowflake, the
    console's person id). ``channel_id`` / ``thread_id`` say where they wrote.
    ``roles`` are Discord role ids (used to recognise an account's members).
    ``event_id`` is the platform's id of this delivery (Slack ``event_id`` or a hash of
    the request, Discord interaction id): the same id twice has one effect.
    ``sectioned`` is True where the platform files subcommands under their section
    (Discord types ``/case eng defect`` for ``defect``): help and usage lines say so.
    """

    platform: str
    user_id: str
    channel_id: str | None = None
    thread_id: str | None = None
    user_name: str | None = None
    roles: tuple[str, ...] = ()
    event_id: str | None = None
    sectioned: bool = False


@dataclass(frozen=True)
class Option:
    value: str
    label: str


@dataclass(frozen=True)
class PromptField:
    name: str
    label: str
    kind: str = "text"  # "text" (one line), "textarea", "select"
    options: tuple[Option, ...] = ()
    required: bool = True
    max_length: int = 3000
    placeholder: str = ""


@dataclass(frozen=True)
class Prompt:
    """A form the adapter shows (Slack modal, Discord modal, console questions).

    Its answers come back through ``Core.submit(ctx, prompt.form_id, values)``.
    """

    form_id: str  # e.g. "open", "reject:CASE-3", "survey_comment:CASE-3", "assign:CASE-3"
    title: str
    fields: tuple[PromptField, ...]
    submit_label: str = "Submit"


@dataclass
class Reply:
    """What the acting person sees in answer (ephemeral unless ``public``).

    ``ok`` is False for refusals and errors; ``errors`` maps form field names to
    messages (a modal answers them in place); ``prompt`` asks the adapter to show a
    form first; ``duplicate`` marks a re-delivered event that had no new effect.
    ``case_key`` names the case the reply is about, when there is one.
    """

    text: str
    ok: bool = True
    public: bool = False
    errors: dict[str, str] = field(default_factory=dict)
    prompt: Prompt | None = None
    duplicate: bool = False
    case_key: str | None = None

    @classmethod
    def refuse(cls, text: str, **kw: object) -> Reply:
        return cls(text=text, ok=False, **kw)  # type: ignore[arg-type]


@dataclass(frozen=True)
class CaseLine:
    """One case in a list (the App Home, `/case list`, `/case queue`)."""

    key: str
    title: str
    state: str
    severity: str
    account: str
    assignee: str | None = None
    time_left: str | None = None  # service-level time left, when a target applies


@dataclass
class HomeView:
    """What a person's home (Slack App Home, a console `home`) shows: titled sections."""

    title: str
    sections: list[tuple[str, list[CaseLine]]] = field(default_factory=list)
    known: bool = True  # False for people casebot does not know (shown a polite note)


@dataclass(frozen=True)
class PersonRef:
    """A person as a platform names them in a typed option (Discord's user option):
    the command layer resolves it to a casebot person, as it does a typed mention."""

    platform: str
    user_id: str
