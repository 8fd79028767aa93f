"""The per-request GraphQL context: who is calling, today's date, and fresh loaders."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Any, TypeAlias

import strawberry
from starlette.requests import Request

from api.commands import Commands
from api.graphql.loaders import Loaders
from domain.ports import Clock
from domain.principal import Principal
from persistence.read_models import ReadModels


@dataclass
class Context:
    request: Request | None
    principal: Principal
    read: ReadModels
    loaders: Loaders
    clock: Clock
    today: date
    request_id: str
    commands: Commands


Info: TypeAlias = strawberry.Info[Context, Any]
