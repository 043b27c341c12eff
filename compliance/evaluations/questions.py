"""The questions of each stage, and reading a posted answer form: every answer checked in the
form's order, each problem a plain-English message by its field, as GOV.UK forms do."""

from collections.abc import Mapping
from dataclasses import dataclass, field

from compliance.forms import posted_text

PARTNERS, PEOPLE = "partners", "people"
STAGES = {
    PARTNERS: "Partners' staff",
    PEOPLE: "People who use services and carers",
}
SCALE = {
    1: "Strongly disagree",
    2: "Disagree",
    3: "Neither agree nor disagree",
    4: "Agree",
    5: "Strongly agree",
}
AGREEING = {4, 5}
RIGHT_OUTCOMES = {"yes": "Yes", "partly": "Partly", "no": "No"}
TEXT_LIMIT = 2000


@dataclass(frozen=True)
class Statement:
    """A statement answered on the five-point scale from strongly disagree to strongly agree."""

    key: str
    text: str
    missing: str


@dataclass(frozen=True)
class Question:
    """A question answered in the person's own words (optional)."""

    key: str
    text: str
    hint: str
    about: str  # "what matters most to you", for the message when it is too long


PARTNER_STATEMENTS = (
    Statement(
        "share_information",
        "Partners share information when it matters",
        "Choose how much you agree that partners share information when it matters",
    ),
    Statement(
        "trust",
        "Partners trust each other",
        "Choose how much you agree that partners trust each other",
    ),
    Statement(
        "joint_decisions",
        "Decisions are made jointly",
        "Choose how much you agree that decisions are made jointly",
    ),
    Statement(
        "shared_purpose",
        "Partners agree on what the partnership is for",
        "Choose how much you agree that partners agree on what the partnership is for",
    ),
)
PEOPLE_STATEMENTS = (
    Statement(
        "better_for_me",
        "Things have got better for me",
        "Choose how much you agree that things have got better for you",
    ),
    Statement(
        "listened_to",
        "People listen to what matters to me",
        "Choose how much you agree that people listen to what matters to you",
    ),
    Statement(
        "joined_up",
        "The services I use work well together",
        "Choose how much you agree that the services you use work well together",
    ),
)
EXPECTED = Question(
    "expected",
    "What do you expect to change for the people who use services?",
    "Optional. Do not include names or anything that could identify someone.",
    "what you expect to change",
)
MATTERS_MOST = Question(
    "matters_most",
    "What matters most to you?",
    "Optional. Do not include your name or anyone else’s.",
    "what matters most to you",
)
WHAT_CHANGED = Question(
    "what_changed",
    "What has changed for you?",
    "Optional. Tell us what is better or worse. Do not include your name or anyone else’s.",
    "what has changed for you",
)
STATEMENTS = {PARTNERS: PARTNER_STATEMENTS, PEOPLE: PEOPLE_STATEMENTS}
QUESTIONS = {PARTNERS: (EXPECTED,), PEOPLE: (MATTERS_MOST, WHAT_CHANGED)}
RIGHT_OUTCOMES_MISSING = "Choose yes, partly or no"
OUTCOMES_UNKNOWN = "Choose outcomes from the list"


@dataclass
class Answer:
    """A stage's answers as read from a form: values for the service, errors in form order."""

    choices: dict[str, int | str] = field(default_factory=dict)
    outcome_ids: list[int] = field(default_factory=list)
    texts: dict[str, str] = field(default_factory=dict)
    errors: dict[str, str] = field(default_factory=dict)


def _statements(form: Mapping[str, object], answer: Answer, statements: tuple) -> None:
    for statement in statements:
        value = posted_text(form, statement.key)
        if value in {str(n) for n in SCALE}:
            answer.choices[statement.key] = int(value)
        else:
            answer.errors[statement.key] = statement.missing


def _text(form: Mapping[str, object], answer: Answer, question: Question) -> None:
    value = posted_text(form, question.key)
    if len(value) > TEXT_LIMIT:
        answer.errors[question.key] = (
            f"Write {TEXT_LIMIT:,} characters or fewer about {question.about} "
            f"(you wrote {len(value):,})"
        )
    elif value:
        answer.texts[question.key] = value


def _ticked(form, answer: Answer, outcome_ids: set[int]) -> None:
    ticked = form.getlist("outcomes") if hasattr(form, "getlist") else form.get("outcomes", [])
    chosen = {value.strip() for value in ticked if isinstance(value, str)}
    known = {str(i) for i in outcome_ids}
    if chosen - known:
        answer.errors["outcomes"] = OUTCOMES_UNKNOWN
    answer.outcome_ids = sorted(int(v) for v in chosen & known)


def read_partner_answer(form, outcome_ids: set[int]) -> Answer:
    """The partners' survey: the statements, the outcomes expected to change, and in words."""
    answer = Answer()
    _statements(form, answer, PARTNER_STATEMENTS)
    _ticked(form, answer, outcome_ids)
    _text(form, answer, EXPECTED)
    return answer


def read_people_answer(form, has_outcomes: bool) -> Answer:
    """The people's check: are these the right outcomes, what matters, what has changed."""
    answer = Answer()
    if has_outcomes:
        value = posted_text(form, "right_outcomes")
        if value in RIGHT_OUTCOMES:
            answer.choices["right_outcomes"] = value
        else:
            answer.errors["right_outcomes"] = RIGHT_OUTCOMES_MISSING
    _text(form, answer, MATTERS_MOST)
    _statements(form, answer, PEOPLE_STATEMENTS)
    _text(form, answer, WHAT_CHANGED)
    return answer


def typed(form) -> dict[str, object]:
    """What was posted, to show again: ticked outcomes as a list, the rest as text."""
    values: dict[str, object] = {
        k: v for k, v in form.items() if isinstance(v, str) and k != "csrf_token"
    }
    ticked = form.getlist("outcomes") if hasattr(form, "getlist") else []
    values["outcomes"] = [v for v in ticked if isinstance(v, str)]
    return values


# The questions as the forms' templates read them.
FORM = {
    "scale": SCALE,
    "partner_statements": PARTNER_STATEMENTS,
    "people_statements": PEOPLE_STATEMENTS,
    "expected": EXPECTED,
    "matters_most": MATTERS_MOST,
    "what_changed": WHAT_CHANGED,
    "right_outcomes": RIGHT_OUTCOMES,
    "limit": TEXT_LIMIT,
}
