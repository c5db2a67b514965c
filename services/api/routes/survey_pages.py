"""The client's pages: the survey and the opt-out. No JavaScript, no cookies, no CSRF token:
the single-use link is the credential. A GET never changes anything, because mail scanners
follow every link in an email."""

from __future__ import annotations

from collections.abc import Mapping
from contextlib import AbstractContextManager as ContextManager
from functools import cache, partial
from typing import Annotated, Any

import anyio
from litestar import Controller, Request, get, post
from litestar.enums import MediaType, RequestEncodingType
from litestar.openapi.spec import Example
from litestar.params import Body
from litestar.response import Response, Template
from litestar.template import TemplateEngineProtocol
from sqlmodel import Session

from services.api.context import ApiContext
from services.api.path_ids import SurveyToken, UnsubscribeToken
from shared.credentials import practice_of_link
from shared.errors import Conflict, DomainError, Gone, Invalid, NotFound
from shared.models import TokenPurpose
from shared.survey import opt_out, responses
from shared.survey.items import SCALE_LABELS

TOKEN_PAGE_HEADERS = {
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-store",
    "X-Robots-Tag": "noindex",
}
MAX_FORM_FIELDS = 40
SURVEY_FORM = Body(
    media_type=RequestEncodingType.URL_ENCODED,
    description="One field per survey question, named by its key, with a score from 1 (Not "
    "at all) to 5 (Completely); talk=yes if the client asked to talk about how therapy is "
    "going; an optional comment. At most 40 fields.",
    examples=[
        Example(
            summary="Five answers, a wish to talk and a comment",
            value={
                "honest": "4",
                "disagree": "3",
                "respected": "5",
                "input": "4",
                "pace": "2",
                "talk": "yes",
                "comment": "It felt rushed at the end.",
            },
        )
    ],
)


def _page(name: str, status: int = 200, **context: Any) -> Template:
    return Template(
        template_name=name, context=context, status_code=status, headers=TOKEN_PAGE_HEADERS
    )


# What a client opening a link reads first: the state the link is in, in plain words.
_LINK_STATES: dict[type[DomainError], str] = {
    Conflict: "Already answered",
    Gone: "This link has closed",
    NotFound: "This link is not valid",
}
ALREADY_UNSUBSCRIBED = (
    "You are already unsubscribed",
    "You get no more feedback emails after your sessions; there is nothing more to do. Your "
    "therapist's practice can turn these emails back on if you ask them to.",
)


@cache
def _thank_you(engine: TemplateEngineProtocol[Any, Any]) -> str:
    """The page after an answer: the same words for every answer and practice (it names no
    one and shows nothing of the answer), so rendered once per process."""
    page = engine.get_template("message.html").render(
        title="Thank you",
        message="Your answers were saved. They help your therapist make sessions work for you.",
    )
    return str(page)


def _problem(error: DomainError) -> Template:
    title = next(
        (words for kind, words in _LINK_STATES.items() if isinstance(error, kind)), "This link"
    )
    return _page("message.html", status=error.status_code, title=title, message=error.message)


def _link_transaction(context: ApiContext, token: str) -> ContextManager[Session]:
    """A transaction in the practice the link belongs to. An unknown token gets one in no
    practice, where resolve_link finds nothing and says the link is not valid."""
    return context.db.transaction(practice_of_link(context.db, token))


def _survey_page(
    context: ApiContext,
    token: str,
    chosen_from: Mapping[str, Any],
    *,
    status: int = 200,
    error: str | None = None,
) -> Template:
    """The survey form, with answers pre-selected from a query string (the email's one-click
    buttons) or from a refused submission, so the client only fixes what was missing."""
    now = context.clock.now()
    try:
        with _link_transaction(context, token) as session:
            link = responses.resolve_link(session, token, TokenPurpose.SURVEY, now=now)
            form = responses.survey_form(session, link.subject_id, now=now)
    except DomainError as problem:
        return _problem(problem)
    valid = {str(value) for value in SCALE_LABELS}
    chosen = {
        item.key: int(chosen_from[item.key])
        for item in form.items
        if str(chosen_from.get(item.key, "")) in valid
    }
    return _page(
        "survey.html",
        status=status,
        form=form,
        chosen=chosen,
        labels=SCALE_LABELS,
        error=error,
    )


class SurveyPageController(Controller):
    """The pages a client's emailed links open: HTML for people, not for integration. They
    are in the schema because they are Attune's public, unauthenticated surface, which the
    fuzzer and the isolation tests walk from it."""

    path = "/"
    include_in_schema = True
    tags = ["client pages"]
    # The single-use link is the credential: no cookie rides along, so no CSRF token.
    opt = {
        "public": True,
        "rate_limit": "survey",
        "exclude_from_csrf": True,
        # Each answers these itself, with a page.
        "raises": (Conflict, Gone, Invalid),
    }

    @get(
        "/s/{token:str}", sync_to_thread=True, summary="Show the survey", operation_id="showSurvey"
    )
    def survey(self, token: SurveyToken, request: Request, context: ApiContext) -> Template:
        """The survey page (HTML) a client's invitation links to; the single-use token in
        the path is the only credential. A `?<item>=<1-5>` query (the email's one-click
        buttons) pre-selects an answer. Opening it stores nothing, so mail scanners that
        follow links change nothing. A closed, answered or unknown link shows a page saying
        so."""
        return _survey_page(context, token, request.query_params)

    @post(
        "/s/{token:str}",
        status_code=200,
        summary="Answer the survey",
        operation_id="answerSurvey",
    )
    async def submit(
        self,
        token: SurveyToken,
        data: Annotated[dict[str, Any], SURVEY_FORM],
        context: ApiContext,
        request: Request,
    ) -> Template | Response[str]:
        """Store the client's answers (an HTML form post; the token in the path is the
        credential). Once only: a second submission with the same link is refused (409),
        and a missing or out-of-range score shows the form again with what to fix (422).
        Returns a thank-you page.

        A coroutine (responses.submit_response runs on the event loop): the route every
        emailed client takes is the one that must not wait for a worker thread."""
        now = context.clock.now()
        try:
            if len(data) > MAX_FORM_FIELDS:
                raise Invalid("Too many fields in this form.")
            comment = data.get("comment")
            await responses.submit_response(
                context.db,
                token,
                scores={k: v for k, v in data.items() if k not in {"talk", "comment"}},
                asked_to_talk=str(data.get("talk", "")).lower() in {"1", "on", "yes", "true"},
                comment=comment if isinstance(comment, str) else None,
                now=now,
            )
        except Invalid as error:
            return await anyio.to_thread.run_sync(
                partial(_survey_page, status=error.status_code, error=error.message),
                context,
                token,
                data,
            )
        except DomainError as error:
            return _problem(error)
        # The answer's evaluation waits in the outbox: publish it now, not at the next tick.
        if context.relay is not None:
            context.relay.wake()
        return Response(
            _thank_you(request.app.template_engine),
            media_type=MediaType.HTML,
            headers=TOKEN_PAGE_HEADERS,
        )

    @get(
        "/u/{token:str}",
        sync_to_thread=True,
        summary="Show the unsubscribe page",
        operation_id="showUnsubscribe",
    )
    def unsubscribe_page(self, token: UnsubscribeToken, context: ApiContext) -> Template:
        """The page (HTML) an email's unsubscribe link opens. It asks for a confirming POST:
        following the link alone unsubscribes nobody. A client who has already unsubscribed
        is told so, with no button to press again."""
        try:
            with _link_transaction(context, token) as session:
                link = responses.resolve_link(
                    session, token, TokenPurpose.UNSUBSCRIBE, now=context.clock.now()
                )
                already = opt_out.has_opted_out(session, link.subject_id)
        except DomainError as error:
            return _problem(error)
        if already:
            title, message = ALREADY_UNSUBSCRIBED
            return _page("message.html", title=title, message=message)
        return _page("unsubscribe.html")

    @post(
        "/u/{token:str}",
        sync_to_thread=True,
        status_code=200,
        summary="Unsubscribe",
        operation_id="unsubscribe",
    )
    def unsubscribe(self, token: UnsubscribeToken, context: ApiContext) -> Template:
        """Stop all further survey invitations to the client (RFC 8058 one-click: a POST
        with no body and no cookies; the token in the path is the credential). Safe to
        repeat: unsubscribing again changes nothing. Returns a confirmation page."""
        now = context.clock.now()
        try:
            with _link_transaction(context, token) as session:
                link = responses.resolve_link(session, token, TokenPurpose.UNSUBSCRIBE, now=now)
                already = opt_out.has_opted_out(session, link.subject_id)
                opt_out.opt_out(session, link.subject_id, now=now)
        except DomainError as error:
            return _problem(error)
        if already:
            title, message = ALREADY_UNSUBSCRIBED
            return _page("message.html", title=title, message=message)
        return _page(
            "message.html",
            title="You will get no more feedback emails",
            message="You have been unsubscribed. Your therapist's practice can turn these "
            "emails back on if you ask them to.",
        )
