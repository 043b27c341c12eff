"""Evidence pages: correcting it by a new version, withdrawing it (after a confirmation), reviewing
and answering from the obligation page, file downloads, and the review queue."""

from dataclasses import dataclass
from typing import Annotated, Any

from fastapi import Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from sqlmodel import Session

from compliance.access import Principal, evidence_access, require
from compliance.api import RowId
from compliance.audit.service import record_download
from compliance.config import Settings
from compliance.db import row_id, save
from compliance.deps import CurrentUser, FormUser, PostedForm, SessionDep, SettingsDep, page_router
from compliance.errors import NotFound, Refused
from compliance.evidence import files
from compliance.evidence.schemas import AnswerInput, ReviewInput, WithdrawalInput
from compliance.evidence.service import (
    QUEUE_STATES,
    QueueHolder,
    ReviewVerdict,
    answer,
    count_queue,
    links,
    new_version,
    periods_of,
    queue_holders,
    review,
    review_queue,
    served,
    successor,
    withdraw,
)
from compliance.forms import date_parts
from compliance.models import (
    Evidence,
)
from compliance.obligations.holders import HOLDER_KINDS, find_holder, searched
from compliance.obligations.list_pages import holder_links
from compliance.obligations.pages import (
    capitalised,
    form_context,
    obligation_context,
    read_evidence_form,
    readable_detail,
    refusal_field,
    validate_evidence,
)
from compliance.obligations.views import obligations_by_id, what_for
from compliance.paging import PAGE_SIZE, page_number, page_span
from compliance.reminders.service import queue_answer_notice, queue_query_notice
from compliance.web import page_base, render

router = page_router()


def _max_length(model, name: str) -> int:
    """The longest text a field of an API input takes: the pages keep to the same limits."""
    limits = (getattr(m, "max_length", None) for m in model.model_fields[name].metadata)
    return next(limit for limit in limits if limit)


REASON_MAX = _max_length(WithdrawalInput, "reason")
COMMENT_MAX = _max_length(ReviewInput, "comment")
ANSWER_MAX = _max_length(AnswerInput, "answer")


def _evidence(session, principal, evidence_id: int, *, write: bool = False) -> Evidence:
    evidence = session.get(Evidence, evidence_id)
    if evidence is None:
        raise NotFound(f"No evidence with id {evidence_id}")
    reads, writes = evidence_access(session=session, principal=principal, evidence_id=evidence_id)
    require(writes if write else reads, "This evidence is not in your scope")
    return evidence


def _home(session: Session, principal: Principal, evidence_id: int, wanted: int | None) -> int:
    """The obligation page to show the evidence on: the one its form was sent from, if it serves
    it and the user may read it, else the first it serves that they may read."""
    pairs = served(session=session, evidence_ids=[evidence_id], principal=principal)
    readable = [obligation_id for obligation_id, _ in pairs[evidence_id]]
    if not readable:
        raise NotFound(f"Evidence {evidence_id} serves no obligation you may read")
    return wanted if wanted in readable else readable[0]


def _back(
    session, principal, evidence_id: int, wanted: int | None, done: str = ""
) -> RedirectResponse:  # noqa: E501
    obligation_id = _home(session, principal, evidence_id, wanted)
    suffix = f"?{done}=1" if done else ""
    return RedirectResponse(f"/obligations/{obligation_id}{suffix}", status_code=303)


def _wanted(raw: object) -> int | None:
    text = str(raw or "")
    return int(text) if text.isdigit() and len(text) < 12 else None


def _live(session: Session, evidence: Evidence) -> None:
    """Only the current version of evidence still in force is corrected or withdrawn."""
    if evidence.withdrawn_at is not None:
        raise Refused(
            f"This evidence was withdrawn on {evidence.withdrawn_at:%d %B %Y}", status=409
        )
    newer = successor(session=session, evidence_id=row_id(evidence))
    if newer is not None:
        raise Refused(f"This version was corrected by “{newer.title}”; correct that", status=409)


@router.get("/evidence/{evidence_id}")
def evidence_page(
    evidence_id: RowId, session: SessionDep, principal: CurrentUser
) -> RedirectResponse:
    """Evidence is shown on the page of the obligation it serves."""
    _evidence(session, principal, evidence_id)
    return _back(session, principal, evidence_id, None)


@router.get("/evidence/{evidence_id}/file")
def download(
    evidence_id: RowId, session: SessionDep, settings: SettingsDep, principal: CurrentUser
) -> Response:
    """The stored file, as an attachment with its checked type, to users in scope only."""
    evidence = _evidence(session, principal, evidence_id)
    record_download(
        session=session,
        actor=principal.user.email,
        entity_type="evidence",
        entity_id=evidence.id,
        what={"file_name": evidence.file_name, "sha256": evidence.sha256},
    )
    return files.download(
        data_dir=settings.data_dir,
        sha256=evidence.sha256,
        file_name=evidence.file_name,
        media_type=evidence.media_type,
    )


# Correcting and withdrawing --------------------------------------------------------------------


def _around(session, settings, principal, evidence: Evidence, wanted: int | None) -> dict:  # noqa: E501
    """What the correction and withdrawal pages show of the evidence, and the way back."""
    obligation_id = _home(session, principal, row_id(evidence), wanted)
    _, detail = readable_detail(session, settings, principal, obligation_id)
    back = f"/obligations/{obligation_id}"
    return {
        "detail": detail,
        "evidence": evidence,
        "periods": periods_of(session=session, evidence_id=row_id(evidence)),
        "back": back,
    }  # noqa: E501


def _prefilled(evidence: Evidence) -> dict[str, str]:
    """The correction form filled in from the version it corrects."""
    raw = {
        "kind": evidence.kind,
        "title": evidence.title,
        "description": evidence.description or "",
        "url": evidence.url or "",
    }
    for name in ("effective_date", "period_start_date", "period_end_date", "review_by_date"):
        for part, value in date_parts(getattr(evidence, name)).items():
            raw[f"{name}-{part}"] = value
    return raw


@router.get("/evidence/{evidence_id}/correct", response_class=HTMLResponse)
def correction_form(
    evidence_id: RowId,
    request: Request,
    session: SessionDep,
    settings: SettingsDep,
    principal: CurrentUser,
    obligation_id: str = "",
) -> HTMLResponse:
    """The form to record a corrected version, filled in from the version it corrects."""
    evidence = _evidence(session, principal, evidence_id, write=True)
    _live(session, evidence)
    around = _around(session, settings, principal, evidence, _wanted(obligation_id))
    context = around | form_context(settings, around["detail"], raw=_prefilled(evidence))
    return render(request, "evidence_correct.html", context)


def _kept_file(settings: Settings, evidence: Evidence) -> tuple[bytes | None, str | None]:
    """The file of the version corrected, kept when no new one is chosen."""
    if not evidence.sha256:
        return None, None
    return files.read(data_dir=settings.data_dir, sha256=evidence.sha256), evidence.file_name


@router.post("/evidence/{evidence_id}/correct", response_class=HTMLResponse)
def correct_evidence(
    evidence_id: RowId,
    request: Request,
    session: SessionDep,
    settings: SettingsDep,
    principal: FormUser,
    form: PostedForm,
):
    """Record the corrected version (new_version, as the API does), serving the same periods;
    on any problem show the form again with every error, nothing stored."""
    evidence = _evidence(session, principal, evidence_id, write=True)
    wanted = _wanted(form.get("obligation_id"))
    read = read_evidence_form(form, max_bytes=settings.max_upload_bytes)
    chosen = read.file_name
    read.values["occurrence_ids"] = links(session=session, evidence_id=evidence_id)
    if read.content is None and read.values.get("kind") != "link":
        read.content, read.file_name = _kept_file(settings, evidence)
    data = validate_evidence(read, settings.today())
    status = 422
    if data is not None:
        try:
            new_version(
                session=session,
                data_dir=settings.data_dir,
                max_bytes=settings.max_upload_bytes,
                actor=principal.user,
                evidence_id=evidence_id,
                data=data,
                content=read.content,
                file_name=read.file_name,
            )
            save(session)  # before answering "recorded": a failed commit shows the form again
            return _back(session, principal, evidence_id, wanted, "corrected")
        except Refused as exc:
            read.errors[refusal_field(exc)] = capitalised(exc.message)
            status = exc.status if exc.status in {409, 503} else status
    session.rollback()
    around = _around(session, settings, principal, evidence, wanted)
    shown = form_context(settings, around["detail"], read.raw, read.errors, file_name=chosen)
    return render(request, "evidence_correct.html", around | shown, status_code=status)


def _text_problem(text: str, *, limit: int, noun: str, empty: str | None = None) -> str | None:
    """What is wrong with a box of text as typed, in words; None if nothing."""
    if empty and not text.strip():
        return empty
    if "\x00" in text:
        return f"Remove the NUL character (U+0000) from {noun}: it cannot be stored"
    return f"Enter {noun} of {limit} characters or fewer" if len(text.strip()) > limit else None


@router.get("/evidence/{evidence_id}/withdraw", response_class=HTMLResponse)
def withdrawal_form(
    evidence_id: RowId,
    request: Request,
    session: SessionDep,
    settings: SettingsDep,
    principal: CurrentUser,
    obligation_id: str = "",
) -> HTMLResponse:
    """What will be withdrawn, the reason asked for, and the button to confirm it."""
    evidence = _evidence(session, principal, evidence_id, write=True)
    _live(session, evidence)
    around = _around(session, settings, principal, evidence, _wanted(obligation_id))
    return render(request, "evidence_withdraw.html", around | {"errors": {}, "values": {}})


@router.post("/evidence/{evidence_id}/withdraw", response_class=HTMLResponse)
def withdraw_evidence(
    evidence_id: RowId,
    request: Request,
    session: SessionDep,
    settings: SettingsDep,
    principal: FormUser,
    reason: Annotated[str, Form()] = "",
    obligation_id: Annotated[str, Form()] = "",
):
    """Withdraw evidence, giving the reason; the record stays. Without a reason the confirmation
    page comes back saying so, and nothing is changed."""
    evidence = _evidence(session, principal, evidence_id, write=True)
    wanted = _wanted(obligation_id)
    if evidence.withdrawn_at is not None:  # pressed twice, or in two tabs: it is done already
        return _back(session, principal, evidence_id, wanted, "withdrawn")
    _live(session, evidence)
    empty = "Enter why you are withdrawing this evidence"
    problem = _text_problem(reason, limit=REASON_MAX, noun="a reason", empty=empty)
    if problem is not None:
        around = _around(session, settings, principal, evidence, wanted)
        context = around | {"errors": {"reason": problem}, "values": {"reason": reason}}
        return render(request, "evidence_withdraw.html", context, status_code=422)
    withdraw(session=session, actor=principal.user, evidence_id=evidence_id, reason=reason)
    return _back(session, principal, evidence_id, wanted, "withdrawn")


# Reviewing and answering ------------------------------------------------------------------------


def _refused_on_page(request, session, settings, principal, evidence_id, wanted, **refused):  # noqa: E501
    """The obligation page again, with the refused review or answer as typed and the problem
    by its box: refused is field=(message, typed)."""
    obligation_id = _home(session, principal, evidence_id, wanted)
    errors = {field: message for field, (message, _) in refused.items()}
    values = {field: typed for field, (_, typed) in refused.items()}
    context = obligation_context(
        session, settings, principal, obligation_id, errors=errors, values=values
    )
    return render(request, "obligation.html", context, status_code=422)


@router.post("/evidence/{evidence_id}/review", response_class=HTMLResponse)
def review_evidence(
    evidence_id: RowId,
    request: Request,
    session: SessionDep,
    principal: FormUser,
    settings: SettingsDep,
    verdict: Annotated[ReviewVerdict, Form()],
    comment: Annotated[str, Form()] = "",
    obligation_id: Annotated[str, Form()] = "",
):
    """An inspector accepts or queries evidence in their scope; a query needs a comment."""
    _evidence(session, principal, evidence_id)
    require(principal.is_inspector or principal.is_admin, "Only inspectors review evidence")
    wanted = _wanted(obligation_id)
    empty = "Enter what you are querying, so that the officer can answer"
    problem = _text_problem(
        comment, limit=COMMENT_MAX, noun="a comment", empty=empty if verdict == "queried" else None
    )
    if problem is not None:
        refused = {f"comment-{evidence_id}": (problem, comment)}
        return _refused_on_page(
            request, session, settings, principal, evidence_id, wanted, **refused
        )  # noqa: E501
    made = review(
        session=session,
        actor=principal.user,
        evidence_id=evidence_id,
        verdict=verdict,
        comment=comment.strip(),
    )
    if verdict == ReviewVerdict.queried:
        # In the same transaction as the query, so the notice is never lost nor sent twice.
        queue_query_notice(session=session, settings=settings, comment=made)
    return _back(session, principal, evidence_id, wanted, verdict.value)


@router.post("/evidence/{evidence_id}/answer", response_class=HTMLResponse)
def answer_query(
    evidence_id: RowId,
    request: Request,
    session: SessionDep,
    principal: FormUser,
    settings: SettingsDep,
    body: Annotated[str, Form()] = "",
    obligation_id: Annotated[str, Form()] = "",
):
    """An officer answers an inspector's query; an empty answer is sent back to be written."""
    _evidence(session, principal, evidence_id, write=True)
    wanted = _wanted(obligation_id)
    empty = "Enter your answer to the query"
    problem = _text_problem(body, limit=ANSWER_MAX, noun="an answer", empty=empty)
    if problem is not None:
        refused = {f"answer-{evidence_id}": (problem, body)}
        return _refused_on_page(
            request, session, settings, principal, evidence_id, wanted, **refused
        )  # noqa: E501
    try:
        made = answer(session=session, actor=principal.user, evidence_id=evidence_id, body=body)
    except Refused as exc:  # answered meanwhile, in another tab or by a colleague
        refused = {f"answer-{evidence_id}": (f"{exc.message[:1].upper()}{exc.message[1:]}", body)}
        return _refused_on_page(
            request, session, settings, principal, evidence_id, wanted, **refused
        )
    queue_answer_notice(session=session, settings=settings, comment=made)
    return _back(session, principal, evidence_id, wanted, "answered")


# The review queue ------------------------------------------------------------------------------


@dataclass(frozen=True)
class QueueRow:
    """A row of the review queue: evidence waiting, the body or partnership it is for, and the
    obligations of that holder it serves. Evidence serving two holders is a row for each."""

    evidence: Evidence
    latest: str | None
    holder: str
    holder_href: str
    serves: list[tuple[int, str, str]]  # obligation id, what it is for, the duty or stream


def _queue_rows(session: Session, principal: Principal, rows: list) -> list[QueueRow]:
    """The queue's rows: each piece of evidence once for every holder it serves that this
    user may read."""
    pairs = served(session=session, evidence_ids=[e.id for e, _ in rows], principal=principal)
    obligation_ids = {o for found in pairs.values() for o, _ in found}
    obligations = obligations_by_id(session=session, obligation_ids=obligation_ids)
    holders = holder_links(session, list(obligations.values()))
    items = what_for(session=session, obligation_ids=obligation_ids)
    queue = []
    for evidence, latest in rows:
        by_holder: dict[tuple[str, str], list[tuple[int, str, str]]] = {}
        for o in dict.fromkeys(o for o, _ in pairs[evidence.id]):
            by_holder.setdefault(holders.get(o, ("", "")), []).append((o, *items.get(o, ("", ""))))
        queue += [QueueRow(evidence, latest, *h, serves) for h, serves in by_holder.items()]
    return queue


Holder = tuple[int | None, int | None]  # a body id, or None and a partnership id


def _holder_choices(held: list[QueueHolder]) -> list[tuple[str, str, Holder]]:
    """The queue filter's bodies and partnerships, by name: each name, the address of its page
    (what the filter sends) and its key."""
    found = []
    for h in held:
        page = f"/bodies/{h.code}" if h.body_id is not None else f"/partnerships/{h.code}"
        found.append((h.name, page, (h.body_id, h.partnership_id)))
    return sorted(found)


@router.get("/reviews", response_class=HTMLResponse)
def review_queue_page(
    request: Request,
    session: SessionDep,
    principal: CurrentUser,
    holder: str = "",
    state: str = "",
    page: str = "",
) -> HTMLResponse:
    """Evidence waiting in scope, newest first: unreviewed or answered (for inspectors and
    admins), queried (for officers); each row with the body or partnership and the duty it
    serves, filtered by either, a page at a time."""
    reviewer = principal.is_inspector or principal.is_admin
    body_ids = None if principal.is_admin else set(principal.body_ids)
    partnership_ids = None if principal.is_admin else set(principal.readable_partnership_ids)
    # The holder the filter names, by its page (what the select sends), its code, or what the
    # search box sends. Too many to write as options (a national registry's), holders are
    # searched as the user types and the one named is looked up alone; else the filter offers
    # those with evidence waiting.
    found = find_holder(session=session, text=holder, kinds=HOLDER_KINDS) if holder else None
    search = searched(session, principal)
    if search:
        choices = []
        readable = found is not None and principal.reads_obligation(found)
        keys = {found.href: (found.body_id, found.partnership_id)} if found and readable else {}
    else:
        held = queue_holders(
            session=session,
            for_reviewer=reviewer,
            body_ids=body_ids,
            partnership_ids=partnership_ids,
        )
        choices = _holder_choices(held)
        keys = {page: key for _, page, key in choices}
    href, label = (found.href, found.label) if found and found.href in keys else (holder, holder)
    errors = {}
    if holder and href not in keys:
        errors["holder"] = (
            "No body or partnership you can see has that name or code: type part of it and "
            "choose a suggestion"
            if search
            else "Choose a body or partnership from the list"
        )
    if state and (not reviewer or state not in QUEUE_STATES):
        errors["state"] = "Choose a state from the list"
    # A holder not in the list matches nothing; a state not in the list is not applied.
    chosen = keys.get(href, (-1, None)) if holder else None
    # Paged in SQL by piece of evidence, newest first: a national queue holds hundreds of
    # thousands. Evidence serving two holders is a row for each on its page, and a holder chosen
    # keeps its own rows.
    asked: dict[str, Any] = {
        "session": session,
        "for_reviewer": reviewer,
        "body_ids": body_ids,
        "partnership_ids": partnership_ids,
        "state": state if reviewer and state in QUEUE_STATES else None,
        "holder": chosen,
    }
    waiting = count_queue(**asked)
    number, pages = page_span(waiting, page_number(page), PAGE_SIZE)
    rows = review_queue(**asked, offset=(number - 1) * PAGE_SIZE, limit=PAGE_SIZE)
    queue = _queue_rows(session, principal, rows)
    context = {
        "rows": [row for row in queue if not holder or row.holder_href == href],
        "page": number,
        "pages": pages,
        "waiting": waiting,
        "holders": [(name, href) for name, href, _ in choices],
        "holder": href,
        "search": search,
        "typed": label,
        "state": state,
        "reviewer": reviewer,
        "errors": errors,
        "base": page_base([("holder", href), ("state", state)]),
    }
    return render(request, "reviews.html", context, status_code=422 if errors else 200)
