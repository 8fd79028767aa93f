"""The ``provision`` command: serve, migrate, worker, demo, schema, clients, partners, users,
tokens, licenses, usage files, the audit chain."""

from __future__ import annotations

import argparse
import importlib.metadata
import logging
import sys
from typing import TypeVar

from api.cli.access import (
    create_client,
    create_user,
    issue_token,
    list_clients,
    revoke_client,
    rotate_keys,
)
from api.cli.arguments import object_id, proxies, scope_name
from api.cli.audit import add_audit_parser, audit_cli
from api.cli.clock import add_clock_parser, clock_cli
from api.cli.config import print_config
from api.cli.demo import run_demo
from api.cli.licenses import license_public_key, license_read
from api.cli.marketplace import add_marketplace_parser, run_marketplace
from api.cli.partners import create_partner, list_partners
from api.cli.reports import add_report_parser, run_report_command
from api.cli.schema import print_schema
from api.cli.server import migrate_database, run_ledger_worker, serve_api
from api.cli.trials import expire_trials
from api.cli.usage import upload_usage_file
from api.cli.webhooks import add_webhooks_parser, webhooks_cli
from api.http.logs import configure_logging
from api.http.tracing import TracingUnavailable
from api.http.tracing import check_available as check_tracing
from api.settings import Settings, SettingsError, unknown_variables

logger = logging.getLogger("provision")
_T = TypeVar("_T")


def version() -> str:
    try:
        return importlib.metadata.version("provision")
    except importlib.metadata.PackageNotFoundError:  # run from a checkout, not installed
        return "unknown"


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="provision", description="Provision: subscriptions turned into access."
    )
    parser.add_argument("--version", action="version", version=f"provision {version()}")
    commands = parser.add_subparsers(dest="command", required=True)
    serve = commands.add_parser(
        "serve", help="migrate, then serve the API (embedded PostgreSQL by default)"
    )
    serve.add_argument("--host", help="listen address (default 127.0.0.1)")
    serve.add_argument("--port", type=int, help="listen port (default 8000)")
    serve.add_argument("--workers", type=int, help="uvicorn worker processes (default 1)")
    serve.add_argument(
        "--proxy-headers",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="take the client's address and scheme from X-Forwarded-For/-Proto sent by a"
        " trusted proxy (default: on, PROVISION_PROXY_HEADERS)",
    )
    serve.add_argument(
        "--forwarded-allow-ips",
        metavar="IPS",
        type=proxies,
        help="comma-separated addresses or networks of the proxies to trust, or * (default"
        " 127.0.0.1, PROVISION_FORWARDED_ALLOW_IPS; see docs/deploy.md)",
    )
    commands.add_parser("migrate", help="apply the database migrations")
    commands.add_parser(
        "worker", help="run the provisioning ledger and the scheduled jobs (SIGTERM stops)"
    )
    commands.add_parser("demo", help="fill the database with a believable demo data set")
    token = commands.add_parser(
        "token", help="access tokens for operators and local development"
    ).add_subparsers(dest="token_command", required=True)
    issue = token.add_parser("issue", help="print a short-lived access token")
    issue.add_argument(
        "--kind",
        choices=["STAFF", "PARTNER", "GITLAB_COM", "PORTAL_USER", "INSTANCE"],
        help="the principal kind the token stands for (with --subject)",
    )
    issue.add_argument("--subject", help="the token's subject (sub), with --kind")
    issue.add_argument("--client", help="mint for this registered client (its kind and scopes)")
    issue.add_argument("--user", help="mint for the registered user with this email")
    issue.add_argument(
        "--scope",
        action="append",
        default=[],
        type=scope_name,
        help="a scope to grant (repeat for more; default: all the principal may hold)",
    )
    issue.add_argument("--partner", help="the partner id, with --kind PARTNER")
    issue.add_argument(
        "--subscription",
        type=object_id("Subscription"),
        metavar="SUBSCRIPTION_ID",
        help="the subscription (sub_… or its UUID), with --kind INSTANCE",
    )
    trials = commands.add_parser("trials", help="namespace trials").add_subparsers(
        dest="trials_command", required=True
    )
    trials.add_parser("expire", help="revert the trials that ended (the worker does it too)")
    add_clock_parser(commands)
    keys = commands.add_parser("keys", help="the keys that sign access tokens").add_subparsers(
        dest="keys_command", required=True
    )
    rotate = keys.add_parser(
        "rotate", help="make a new signing key; the old one verifies until its tokens expire"
    )
    rotate.add_argument(
        "--revoke-old",
        action="store_true",
        help="delete the old keys: every token they signed (access tokens, Cloud Connector"
        " service tokens) is refused within PROVISION_KEY_REFRESH",
    )
    client = commands.add_parser("client", help="OAuth clients").add_subparsers(
        dest="client_command", required=True
    )
    client_create = client.add_parser(
        "create", help="register a client; prints its id and secret (shown once) as JSON"
    )
    client_create.add_argument(
        "--kind", required=True, choices=["staff", "partner", "gitlab_com", "portal"]
    )
    client_create.add_argument("--name", required=True, help="shown on the sign-in page")
    client_create.add_argument(
        "--scope",
        action="append",
        default=[],
        type=scope_name,
        help="a scope it may get (default: all its kind may)",
    )
    client_create.add_argument("--partner", help="the partner id (partner clients)")
    client_create.add_argument(
        "--redirect-uri", action="append", default=[], help="a redirect URI (portal clients)"
    )
    client_create.add_argument(
        "--confidential", action="store_true", help="give a portal client a secret"
    )
    client_list = client.add_parser(
        "list", help="the registered clients, revoked ones included, oldest first"
    )
    client_list.add_argument(
        "--limit", type=int, default=100, help="at most this many (default 100, at most 1000)"
    )
    client_list.add_argument("--after", metavar="CLIENT_ID", help="the page after this client")
    client_list.add_argument("--json", action="store_true", help="a JSON array")
    client_revoke = client.add_parser(
        "revoke",
        help="revoke a client: no new tokens, and its tokens end",
        description="Revoke a client: no new tokens, its refresh tokens end at once, its"
        " access tokens within PROVISION_KEY_REFRESH.",
    )
    client_revoke.add_argument("client_id", metavar="CLIENT_ID")
    partner = commands.add_parser(
        "partner", help="partner organisations (resellers, distributors, marketplaces)"
    ).add_subparsers(dest="partner_command", required=True)
    partner_create = partner.add_parser("create", help="register a partner")
    partner_create.add_argument(
        "--id", required=True, help="its id, as subscriptions and partner clients name it"
    )
    partner_create.add_argument("--name", required=True, help="its name, as customers see it")
    partner_create.add_argument(
        "--kind", required=True, choices=["RESELLER", "DISTRIBUTOR", "MARKETPLACE"]
    )
    partner_list = partner.add_parser(
        "list", help="the partners by id, with how many active clients act for each"
    )
    partner_list.add_argument(
        "--limit", type=int, default=100, help="at most this many (default 100, at most 1000)"
    )
    partner_list.add_argument("--after", metavar="PARTNER_ID", help="the page after this one")
    partner_list.add_argument("--json", action="store_true", help="a JSON array")
    user = commands.add_parser("user", help="people who sign in").add_subparsers(
        dest="user_command", required=True
    )
    user_create = user.add_parser(
        "create", help="register a user (password from PROVISION_USER_PASSWORD or a prompt)"
    )
    user_create.add_argument("--email", required=True)
    user_create.add_argument(
        "--customer",
        type=object_id("Customer"),
        metavar="CUSTOMER_ID",
        help="make them a member of it (cus_… or its UUID)",
    )
    user_create.add_argument("--role", choices=["OWNER", "ADMIN", "VIEWER"])
    user_create.add_argument("--staff", action="store_true", help="a staff member")
    user_create.add_argument(
        "--partner", help="acts for this registered partner (PARTNER tokens naming it)"
    )
    license_ = commands.add_parser("license", help="GitLab license keys").add_subparsers(
        dest="license_command", required=True
    )
    license_.add_parser(
        "public-key", help="print the PEM public key that opens our license keys (made if none)"
    )
    for name, description in (
        ("decode", "print a license key's attributes as JSON"),
        ("verify", 'print "valid", or exit 1 with the reason'),
    ):
        reader = license_.add_parser(name, help=f"{description} (with the public key only)")
        reader.add_argument("file", metavar="FILE", help="the license key file; - reads stdin")
        reader.add_argument(
            "--public-key", metavar="PEM_FILE", help="use this key, not the database's"
        )
    usage = commands.add_parser(
        "usage", help="usage reported by instances (docs/usage-file.md)"
    ).add_subparsers(dest="usage_command", required=True)
    usage_upload = usage.add_parser(
        "upload",
        help="record an offline instance's license usage file (as staff); prints the receipt",
    )
    usage_upload.add_argument(
        "--file", required=True, metavar="FILE", help="license_usage.csv as exported; - reads stdin"
    )
    usage_upload.add_argument(
        "--customer",
        type=object_id("Customer"),
        metavar="CUSTOMER_ID",
        help="refuse the file unless its license is this customer's (cus_… or its UUID)",
    )
    config = commands.add_parser(
        "config", help="print the effective settings and where each came from (secrets masked)"
    )
    config.add_argument("--json", action="store_true", help="a JSON array of objects")
    add_marketplace_parser(commands)
    add_webhooks_parser(commands)
    add_audit_parser(commands)
    add_report_parser(commands)
    schema = commands.add_parser("schema", help="print the GraphQL SDL (schema.graphql)")
    schema.add_argument("--output", "-o", help="write to this file instead of stdout")
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)

    try:
        settings = Settings.from_env()
    except SettingsError as error:
        print(error, file=sys.stderr)
        return 2
    configure_logging(settings)
    for name in unknown_variables():
        logger.warning("%s is not a Provision setting: ignored (see provision config)", name)
    if args.command == "config":
        return print_config(settings, as_json=args.json)
    if args.command in ("serve", "worker"):
        try:
            check_tracing()
        except TracingUnavailable as error:
            print(error, file=sys.stderr)
            return 2
    if args.command == "serve":
        overrides = {
            k: v
            for k in ("host", "port", "workers", "proxy_headers", "forwarded_allow_ips")
            if (v := getattr(args, k)) is not None
        }
        settings = Settings(**{**settings.__dict__, **overrides})
        return serve_api(settings)
    if args.command == "migrate":
        return migrate_database(settings)
    if args.command == "worker":
        return run_ledger_worker(settings)
    if args.command == "demo":
        return run_demo(settings)
    if args.command == "token":
        chosen = [bool(args.kind and args.subject), bool(args.client), bool(args.user)]
        if sum(chosen) != 1 or (bool(args.kind) != bool(args.subject)):
            parser.error("token issue: give --kind and --subject, or --client, or --user")
        return issue_token(
            settings,
            args.kind,
            args.subject,
            args.scope,
            args.client,
            args.user,
            args.partner,
            args.subscription,
        )
    if args.command == "keys":
        return rotate_keys(settings, args.revoke_old)
    if args.command == "trials":
        return expire_trials(settings)
    if args.command == "clock":
        return clock_cli(settings, args)
    if args.command == "client":
        if args.client_command == "list":
            return list_clients(settings, args)
        if args.client_command == "revoke":
            return revoke_client(settings, args.client_id)
        return create_client(settings, args)
    if args.command == "partner":
        if args.partner_command == "list":
            return list_partners(settings, args)
        return create_partner(settings, args)
    if args.command == "user":
        return create_user(settings, args)
    if args.command == "marketplace":
        return run_marketplace(settings, args)
    if args.command == "webhooks":
        return webhooks_cli(settings, args)
    if args.command == "audit":
        return audit_cli(settings, args)
    if args.command == "report":
        return run_report_command(settings, args)
    if args.command == "usage":
        return upload_usage_file(settings, args)
    if args.command == "license":
        if args.license_command == "public-key":
            return license_public_key(settings)
        return license_read(settings, args)
    return print_schema(args.output)


if __name__ == "__main__":
    raise SystemExit(main())
