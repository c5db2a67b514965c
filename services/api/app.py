"""The Litestar application: routes, auth, errors, templates and OpenAPI at /schema."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from litestar import Litestar
from litestar.contrib.jinja import JinjaTemplateEngine
from litestar.datastructures import State
from litestar.di import Provide
from litestar.middleware import DefineMiddleware
from litestar.openapi import OpenAPIConfig
from litestar.openapi.spec import Components, SecurityScheme
from litestar.static_files import create_static_files_router
from litestar.template import TemplateConfig

from services.api import openapi_errors, openapi_operations
from services.api.auth import (
    TokenAuthenticationMiddleware,
    api_keys_where_allowed,
    csrf_middleware,
)
from services.api.context import ApiContext, provide_context, provide_principal
from services.api.errors import EXCEPTION_HANDLERS
from services.api.methods import options_and_head
from services.api.nul_text import refuse_nul_text
from services.api.observability import request_logging
from services.api.openapi_types import (
    DescribedEnums,
    DescribedModels,
    MomentSchema,
    TimeOfDaySchema,
)
from services.api.openapi_viewers import viewers
from services.api.pages.clinician import ClinicianPages
from services.api.pages.onboarding.api_keys import ApiKeyPages
from services.api.pages.onboarding.appointments import AppointmentPages
from services.api.pages.onboarding.clients import ClientOwnerPages
from services.api.pages.onboarding.clinicians import ClinicianRosterPages
from services.api.pages.onboarding.signup import SignUpPages
from services.api.pages.owner import OwnerPages
from services.api.pages.practice.records import RecordPages
from services.api.pages.practice.settings import SettingsPages
from services.api.pages.signin import SignInPages
from services.api.pagination import provide_page
from services.api.rate_limit import build_rate_limiter, rate_limited
from services.api.routes.account_pages import AccountPageController
from services.api.routes.accounts import AccountController, AuthController
from services.api.routes.alerts import AlertController
from services.api.routes.api_keys import ApiKeyController
from services.api.routes.appointments import AppointmentController
from services.api.routes.audit import AuditController
from services.api.routes.clients import ClientController
from services.api.routes.email_choices import (
    NotificationController,
    NudgePreferenceController,
    OptOutController,
)
from services.api.routes.figures import FiguresController
from services.api.routes.health import HealthController
from services.api.routes.practices import PracticeController
from services.api.routes.settings import SettingsController
from services.api.routes.survey_pages import SurveyPageController
from services.api.security_headers import security_headers
from services.metrics.http import metrics_endpoint
from shared.health import ProcessHealth, process_health

TEMPLATES = Path(__file__).parent / "templates"
STATIC = Path(__file__).parent / "static"


def create_app(
    context: ApiContext,
    *,
    dev_mail_dir: str | None = None,
    health: ProcessHealth | None = None,
) -> Litestar:
    """`health`: the process's live and ready answers (services.bootstrap.Stack.health); by
    default ones that watch the database, schema and Redis but no loop."""
    handlers: list[Any] = [
        PracticeController,
        AuthController,
        AccountController,
        ApiKeyController,
        ClientController,
        AppointmentController,
        AlertController,
        SettingsController,
        FiguresController,
        SurveyPageController,
        HealthController,
        AuditController,
        NotificationController,
        OptOutController,
        NudgePreferenceController,
        AccountPageController,
        SignInPages,
        ClinicianPages,
        OwnerPages,
        SettingsPages,
        RecordPages,
        SignUpPages,
        ClinicianRosterPages,
        ApiKeyPages,
        AppointmentPages,
        ClientOwnerPages,
        create_static_files_router(
            path="/static", directories=[STATIC], opt={"public": True}, include_in_schema=False
        ),
    ]
    if dev_mail_dir is not None:
        if not context.settings.embedded:
            # The page shows every email with its live links: never in production mode.
            raise ValueError("the dev mail page exists only in the embedded mode")
        from services.api.routes.dev_mail import DevMailController

        handlers.append(DevMailController)

    app = Litestar(
        route_handlers=handlers,
        state=State(
            {
                "context": context,
                "dev_mail_dir": dev_mail_dir,
                "rate_limiter": build_rate_limiter(context.settings),
                "health": health or process_health(context.db, context.settings),
            }
        ),
        guards=[api_keys_where_allowed, rate_limited],
        # In this order: the first plugin that takes a type describes it.
        plugins=[TimeOfDaySchema(), MomentSchema(), DescribedEnums(), DescribedModels()],
        dependencies={
            "context": Provide(provide_context, sync_to_thread=False),
            "principal": Provide(provide_principal, sync_to_thread=False),
            # Every list route's cursor and page size (services/api/pagination.py).
            "page": Provide(provide_page, sync_to_thread=False),
        },
        middleware=[
            csrf_middleware(context.settings),
            DefineMiddleware(
                TokenAuthenticationMiddleware, exclude_from_auth_key="public", exclude=["^/schema"]
            ),
        ],
        exception_handlers=EXCEPTION_HANDLERS,
        template_config=TemplateConfig(directory=TEMPLATES, engine=JinjaTemplateEngine),
        openapi_config=OpenAPIConfig(
            title="Attune",
            version="1.0.0",
            description="Alliance feedback for therapy practices.",
            path="/schema",
            components=Components(
                security_schemes={
                    "bearer": SecurityScheme(type="http", scheme="bearer"),
                    "apiKey": SecurityScheme(
                        type="apiKey", name="X-API-Key", security_scheme_in="header"
                    ),
                }
            ),
            security=[{"bearer": []}, {"apiKey": []}],
            render_plugins=viewers(),
            # Each operation's docstring is its description: written for integrators.
            use_handler_docstrings=True,
        ),
        # Logging is ours (shared.logging): JSON lines without personal details.
        logging_config=None,
        debug=False,
    )
    # Each operation's error answers in /schema, from its handler's guards, opts and inputs.
    openapi_errors.document_error_answers(app)
    # Public operations say they need no credentials; an optional body is not required.
    openapi_operations.document_access_and_bodies(app)
    # Outside Litestar's routing, guards and authentication, so that every answer (a 401 from
    # the authentication middleware, a 404 or 405 from the router, an OPTIONS, a HEAD, and any
    # route added later) gets the request id, the security headers and its log line and
    # metrics with its real status. /metrics is answered here too, outside the API's routes,
    # authentication and schema (services.metrics.http).
    with_headers = security_headers(https=context.settings.base_url.startswith("https://"))
    app.asgi_handler = request_logging(
        with_headers(
            metrics_endpoint(
                refuse_nul_text(options_and_head(app, app.asgi_handler)),
                context.settings.metrics_token,
            )
        )
    )
    return app
