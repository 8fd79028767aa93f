"""REST endpoints GitLab instances call (protocol §2.1), with GitLab's error contract: a 422
carries ``errors`` and ``error_attribute_map``, which GitLab shows to its users."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from api.commands import Commands
from api.ids import parse_typed_id
from auth.backend import PrincipalUser
from auth.rate_limit import Limit
from auth.request_body import BadBody, read_json_object
from domain.errors import DomainError, TrialAlreadyUsed, Unauthenticated
from domain.model.input_checks import unstorable
from domain.policy import Access, Resource, require_scope
from domain.principal import Principal
from domain.use_cases.start_self_managed_trial import StartSelfManagedTrial
from persistence.read_models import ReadModels

MAX_BODY_BYTES = 16 * 1024
TRIALS_PER_ADDRESS = 10  # per limiter window (15 minutes)


def unprocessable(errors: list[str], attributes: dict[str, list[str]]) -> JSONResponse:
    return JSONResponse({"errors": errors, "error_attribute_map": attributes}, status_code=422)


def self_managed_trial_route(commands: Commands) -> Callable[[Request], Awaitable[JSONResponse]]:
    async def start_trial(request: Request) -> JSONResponse:
        """``POST /trials/self_managed/ultimates``: ``{trial: {name, email, company, …}}`` →
        ``{activation_code}``; GitLab activates it at once."""
        try:
            body = await read_json_object(request, MAX_BODY_BYTES)
        except BadBody:
            body = {}
        # NUL characters or integers beyond bigint: nothing PostgreSQL could store.
        form = body.get("trial") if unstorable(body) is None else None
        if not isinstance(form, dict):
            return unprocessable(["a JSON body {trial: {...}} is expected"], {"base": ["invalid"]})
        fields = {k: form.get(k) for k in ("name", "email", "company")}
        missing = [k for k, v in fields.items() if not isinstance(v, str) or not v.strip()]
        if missing:
            return unprocessable(
                [f"{k} can't be blank" for k in missing], {k: ["blank"] for k in missing}
            )
        address = request.client.host if request.client else "unknown"
        limits = [Limit("trial_address", address, TRIALS_PER_ADDRESS)]
        if await commands.failures.retry_after(limits) is not None:
            return JSONResponse({"errors": ["too many trials from this address"]}, status_code=429)
        await commands.failures.record_failure(limits)  # every trial counts
        command = StartSelfManagedTrial(
            name=fields["name"] or "", email=fields["email"] or "", company=fields["company"] or ""
        )
        try:
            started = await commands.start_self_managed_trial(command)
        except TrialAlreadyUsed:
            return unprocessable(
                ["This email address was already registered for a trial."],
                {"base": ["only_one_trial_per_email_and_type"]},
            )
        except DomainError as invalid:
            field = invalid.path[-1] if invalid.path else "base"
            return unprocessable([invalid.message], {field: ["invalid"]})
        return JSONResponse({"activation_code": started.activation_code})

    return start_trial


def license_download_route(read: ReadModels) -> Callable[[Request], Awaitable[Response]]:
    async def download(request: Request) -> Response:
        """``GET /api/v1/licenses/{id}/download``: the license as a file, for whoever may see it
        (bearer token with ``licenses:read``; another tenant's license is a 404)."""
        user = request.scope.get("user")
        principal = user.principal if isinstance(user, PrincipalUser) else Principal.anonymous()
        try:
            require_scope(principal, Resource.LICENSES, Access.READ)
        except Unauthenticated as refused:
            return JSONResponse({"error": refused.message}, status_code=401)
        except DomainError as refused:
            return JSONResponse({"error": refused.message}, status_code=403)
        try:
            license_id = parse_typed_id(request.path_params["license_id"], "License", path=("id",))
        except DomainError:
            return JSONResponse({"error": "no such license"}, status_code=404)
        found = await read.licenses_by_ids(principal, [license_id])
        keys = await read.license_keys_by_ids(principal, [license_id])
        if license_id not in found or license_id not in keys:
            return JSONResponse({"error": "no such license"}, status_code=404)
        subscription = await read.subscriptions_by_ids(
            principal, [found[license_id].subscription_id]
        )
        name = next(iter(subscription.values())).name if subscription else "license"
        return Response(
            keys[license_id],
            media_type="application/octet-stream",
            headers={
                "Content-Disposition": f'attachment; filename="{name}.gitlab-license"',
                "Cache-Control": "no-store",
            },
        )

    return download


def gitlab_routes(commands: Commands, read: ReadModels) -> list[Route]:
    return [
        Route(
            "/trials/self_managed/ultimates",
            self_managed_trial_route(commands),
            methods=["POST"],
        ),
        Route(
            "/api/v1/licenses/{license_id}/download",
            license_download_route(read),
            methods=["GET"],
        ),
    ]
