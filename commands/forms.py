"""The forms casebot shows (Slack and Discord modals, the console's questions) and what
each one's answers invoke. A form is only a way of typing a command's parameters: its
answers go to the same command, with the same rules and words, as the typed form."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from bot.actors import ENGINEERING
from bot.config import Config
from bot.exchange import Option, Prompt, PromptField
from bot.terms import SEVERITIES


@dataclass(frozen=True)
class Form:
    """A form kind: the command its answers invoke and how to build it for a case."""

    command: str
    title: str
    fields: tuple[PromptField, ...]
    submit_label: str
    # A field whose name is not its command parameter's (``person`` → ``engineer``).
    renamed: tuple[tuple[str, str], ...] = ()


def open_form(config: Config) -> Prompt:
    return Prompt(
        form_id="open",
        title="Open a support case",
        fields=(
            PromptField(
                "title", "Title", "text", max_length=200, placeholder="What is wrong, in a sentence"
            ),
            PromptField(
                "area",
                "Product area",
                "select",
                tuple(Option(a.key, a.name) for a in config.product_areas),
                required=False,
            ),
            PromptField(
                "type", "Type", "select", tuple(Option(k, v) for k, v in config.case_types.items())
            ),
            PromptField(
                "impact",
                "Business impact",
                "select",
                tuple(Option(k, v.label) for k, v in config.impacts.items()),
                required=False,
            ),
            PromptField(
                "description",
                "Description",
                "textarea",
                required=False,
                placeholder="What you did, what you expected, what happened",
            ),
        ),
        submit_label="Open case",
    )


def case_forms(config: Config) -> dict[str, Form]:
    """The forms about one case, by kind (the ``kind`` of ``kind:CASE-n`` form ids)."""
    engineers = tuple(Option(p.id, p.name) for p in config.people if p.role in ENGINEERING)
    areas = tuple(Option(a.key, a.name) for a in config.product_areas)
    return {
        "reject": Form(
            "reject",
            "Reject the resolution of {key}",
            (PromptField("reason", "Why doesn't it solve the problem?", "textarea"),),
            "Reject",
        ),
        "escalate": Form(
            "escalate",
            "Escalate {key}",
            (PromptField("reason", "Why are you escalating?", "textarea"),),
            "Escalate",
        ),
        "assign": Form(
            "assign",
            "Assign {key}",
            (PromptField("person", "Engineer", "select", engineers),),
            "Assign",
            (("person", "engineer"),),
        ),
        "area": Form(
            "area",
            "Change the area of {key}",
            (PromptField("area", "Product area", "select", areas),),
            "Change",
        ),
        "severity": Form(
            "severity",
            "Change the severity of {key}",
            (
                PromptField(
                    "severity", "Severity", "select", tuple(Option(s, s) for s in SEVERITIES)
                ),
            ),
            "Change",
            (("severity", "level"),),
        ),
        "survey_comment": Form(
            "comment",
            "Anything to add?",
            (PromptField("comment", "Comment (optional)", "textarea", required=False),),
            "Send",
        ),
    }


def prompt_for(form: Form, kind: str, key: str) -> Prompt:
    return Prompt(f"{kind}:{key}", form.title.format(key=key), form.fields, form.submit_label)


def answers(form: Form, key: str, values: Mapping[str, str]) -> dict[str, str]:
    """A case form's answers as the arguments of its command."""
    renamed = dict(form.renamed)
    args = {"case": key}
    for f in form.fields:
        args[renamed.get(f.name, f.name)] = (values.get(f.name) or "").strip()
    return args
