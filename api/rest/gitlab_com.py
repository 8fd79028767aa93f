"""REST endpoints GitLab.com calls (protocol §2.2 C1, C2, C4, C5), authenticated with the
configured ``X-Admin-Email`` / ``X-Admin-Token`` pair. There are no default values (GitLab's own
defaults are public): when the pair is not configured, every call is refused."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import timedelta
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from api.commands import Commands
from api.rest.gitlab import MAX_BODY_BYTES
from api.worker.in_request import TrialProvisioning
from auth.admin_pair import EMAIL_HEADER, TOKEN_HEADER, AdminPair
from auth.request_body import BadBody, read_json_object
from domain.errors import DomainError, TrialAlreadyUsed, ValidationFailed
from domain.model.enums import NamespaceKind, TrialType
from domain.model.input_checks import BIGINT_MAX, parse_bigint_id, unstorable
from domain.model.namespace import base_plan_of
from domain.model.trial_rules import DEFAULT_LENGTHS
from domain.policy import grantable
from domain.principal import Principal, PrincipalKind
from domain.use_cases.trials import ApplyTrial
from domain.use_cases.upsert_namespace import UpsertNamespace
from persistence.read_models import ReadModels

GITLAB_COM = Principal(
    PrincipalKind.GITLAB_COM, subject="gitlab.com", scopes=grantable(PrincipalKind.GITLAB_COM)
)
# GitLab's trial type names and what they start here: the plan trial, with Duo Enterprise.
TRIAL_TYPES: dict[str, tuple[TrialType, ...]] = {
    "ultimate_with_gitlab_duo_enterprise": (TrialType.ULTIMATE, TrialType.DUO_ENTERPRISE),
    "ultimate_with_dap": (TrialType.ULTIMATE, TrialType.DUO_ENTERPRISE),
    "ultimate_on_premium_with_gitlab_duo_enterprise": (
        TrialType.ULTIMATE_ON_PREMIUM,
        TrialType.DUO_ENTERPRISE,
    ),
    "ultimate_on_premium_with_dap": (TrialType.ULTIMATE_ON_PREMIUM, TrialType.DUO_ENTERPRISE),
    "gitlab_duo_enterprise": (TrialType.DUO_ENTERPRISE,),
}
MAX_NAMESPACES = 100

Handler = Callable[[Request], Awaitable[Response]]


def admin_only(pair: AdminPair | None, handler: Handler) -> Handler:
    async def guarded(request: Request) -> Response:
        if pair is None:
            return JSONResponse(
                {"errors": ["GitLab.com access is not configured on this portal"]}, status_code=403
            )
        given_email = request.headers.get(EMAIL_HEADER, "")
        given_token = request.headers.get(TOKEN_HEADER, "")
        if not pair.matches(given_email, given_token):
            return JSONResponse({"errors": ["unauthorized"]}, status_code=401)
        return await handler(request)

    return guarded


def _unprocessable(message: str) -> JSONResponse:
    return JSONResponse({"errors": [message]}, status_code=422)


def start_trial(
    commands: Commands,
    provisioning: TrialProvisioning,
    only: tuple[TrialType, ...] | None = None,
) -> Handler:
    async def trial(request: Request) -> Response:
        """C1/C2: start the trial the body names on its namespace (created here when GitLab.com
        has not sent it yet), and provision it on GitLab.com before answering: GitLab assigns
        the user's Duo seat right after the 2xx. Not provisioned (GitLab.com failed, was too
        slow, or is not configured) is a 422 GitLab shows; the trial and its ledger rows stay,
        the workers retry them, and GitLab asking again finishes the same trial."""
        try:
            body = await read_json_object(request, MAX_BODY_BYTES)
        except BadBody:
            return _unprocessable("a JSON object is expected")
        if unstorable(body) is not None:  # NUL characters or integers beyond bigint
            return _unprocessable("a JSON object is expected")
        form = body.get("trial_user", body)
        if not isinstance(form, dict):
            return _unprocessable("trial_user must be an object")
        namespace_id = form.get("namespace_id")
        if (
            not isinstance(namespace_id, int)
            or isinstance(namespace_id, bool)
            or not 1 <= namespace_id <= BIGINT_MAX
        ):
            return _unprocessable("namespace_id must be a positive integer")
        wanted = only or TRIAL_TYPES.get(str(form.get("trial_type") or ""))
        if form.get("add_on_name") and only is None and wanted is None:
            wanted = (TrialType.DUO_ENTERPRISE,)
        if not wanted:
            return _unprocessable(f"unknown trial_type {form.get('trial_type')!r}")
        combined = len(wanted) > 1
        started = []
        try:
            namespace = await _namespace(commands, namespace_id, form.get("namespace"))
            for trial_type in wanted:
                add_on_part = combined and trial_type is TrialType.DUO_ENTERPRISE
                command = ApplyTrial(
                    namespace, trial_type, with_plan_trial=add_on_part, repeat_is_same=True
                )
                try:
                    started.append(await commands.trials.apply(GITLAB_COM, command))
                except TrialAlreadyUsed:
                    if not add_on_part:
                        raise  # the add-on part of a combined trial may have been had before
        except DomainError as refused:
            return _unprocessable(refused.message)
        since = min(changed.trial.created_at for changed in started)
        not_done = await provisioning.finish(started[0].namespace.id, since)
        if not_done is not None:
            return _unprocessable(not_done)
        return JSONResponse({"success": True})

    return trial


async def _namespace(commands: Commands, gitlab_id: int, described: Any) -> Any:
    """Our id of the namespace GitLab.com names. What GitLab.com says of it with the request
    (name, path, kind, plan) is recorded: a group it had not sent yet is created, a known one
    brought up to date (its parent and owners stay as they were sent before)."""
    known = await commands.namespace_keeping.find(gitlab_id)
    if not isinstance(described, dict):
        if known is not None:
            return known.id
        raise DomainError("the namespace is unknown here; send `namespace` to describe it")
    kind = str(described.get("kind") or (known.kind.value if known else "group")).upper()
    path = str(described.get("path") or (known.path if known else ""))
    name = str(described.get("name") or (known.name if known else "") or path)
    plan = described.get("plan")
    recorded = await commands.namespace_keeping.upsert(
        GITLAB_COM,
        UpsertNamespace(
            gitlab_id=gitlab_id,
            path=path,
            name=name,
            kind=NamespaceKind.USER if kind == "USER" else NamespaceKind.GROUP,
            parent_gitlab_id=known.parent_gitlab_id if known else None,
            gitlab_plan=base_plan_of(plan) if isinstance(plan, str) else None,
        ),
    )
    return recorded.id


def eligibility(commands: Commands, read: ReadModels) -> Handler:
    async def eligible(request: Request) -> Response:
        """C4: ``{namespaces: {"<gitlab id>": [eligible trial type names]}}``."""
        raw = request.query_params.getlist("namespace_ids[]") or request.query_params.getlist(
            "namespace_ids"
        )
        try:
            if len(raw) > MAX_NAMESPACES:
                raise ValidationFailed("too many")
            gitlab_ids = list(dict.fromkeys(parse_bigint_id(v, ("namespace_ids",)) for v in raw))
        except ValidationFailed:
            return _unprocessable(f"namespace_ids[] holds up to {MAX_NAMESPACES} integers")
        known = []
        # A group never sent here is a free top-level group with no trial history.
        unseen = set(commands.trials.eligible_when_never_seen(list(TrialType)))
        eligible_types: dict[int, set[TrialType]] = {}
        for gitlab_id in gitlab_ids:
            namespace = await read.namespace_by_gitlab_id(GITLAB_COM, gitlab_id)
            if namespace is not None:
                known.append(namespace.id)
            eligible_types[gitlab_id] = set() if namespace is not None else set(unseen)
        # One answer for all of them, per namespace and type.
        verdicts = await commands.trials.eligibility(GITLAB_COM, known, list(TrialType))
        for verdict in verdicts:
            if verdict.eligible:
                eligible_types[verdict.namespace.gitlab_id].add(verdict.type)
        answer = {
            str(gitlab_id): [name for name, t in TRIAL_TYPES.items() if t[0] in ok]
            for gitlab_id, ok in eligible_types.items()
        }
        return JSONResponse({"namespaces": answer})

    return eligible


async def trial_types(request: Request) -> Response:
    """C5: each trial type GitLab.com may offer, with its length."""
    lengths: dict[TrialType, timedelta] = DEFAULT_LENGTHS
    return JSONResponse(
        {
            "trial_types": {
                name: {"duration_days": lengths[types[0]].days}
                for name, types in TRIAL_TYPES.items()
            }
        }
    )


def gitlab_com_routes(
    commands: Commands,
    read: ReadModels,
    pair: AdminPair | None,
    provisioning: TrialProvisioning,
) -> list[Route]:
    def guard(handler: Handler) -> Handler:
        return admin_only(pair, handler)

    trial = start_trial(commands, provisioning)
    return [
        Route("/trials", guard(trial), methods=["POST"]),
        Route("/trials/gitlab_com/ultimates", guard(trial), methods=["POST"]),
        Route(
            "/trials/gitlab_com/addons",
            guard(start_trial(commands, provisioning, (TrialType.DUO_ENTERPRISE,))),
            methods=["POST"],
        ),
        Route(
            "/api/v1/gitlab/namespaces/trials/eligibility",
            guard(eligibility(commands, read)),
            methods=["GET"],
        ),
        Route("/api/v1/gitlab/namespaces/trials/trial_types", guard(trial_types), methods=["GET"]),
    ]
