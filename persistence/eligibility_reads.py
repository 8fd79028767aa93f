"""The read behind GitLab.com's ``namespaceEligibility``: the subscriptions linked to the
groups it names, one statement for the whole batch.

Tenant filtering is on the namespace (``persistence.visibility.namespaces``): which
subscription a visible group is on is a fact about the group, so GitLab.com (which reaches
every namespace and no subscription) learns that subscription's name and account, and nothing
else about it. A group beyond the caller's reach reads like one Provision has never seen.
"""

from __future__ import annotations

from collections.abc import Sequence

from domain.model.subscription import Subscription
from domain.policy import Resource
from domain.principal import Principal
from persistence.keyset import KeysetQueries, Where
from persistence.mappers import SUBSCRIPTION_COLUMNS, subscription_from_row
from persistence.visibility import tenant_condition


class EligibilityReads(KeysetQueries):
    async def subscriptions_linked_to_groups(
        self, principal: Principal, gitlab_ids: Sequence[int]
    ) -> dict[int, list[Subscription]]:
        """Per GitLab id of a visible namespace, the subscriptions linked to it, oldest first."""
        where = Where()
        where.add(f"n.gitlab_id = ANY({where.arg(list(gitlab_ids))})")
        visible = tenant_condition(principal, Resource.NAMESPACES, "n", where)
        if visible is not None:
            where.add(visible)
        rows = await self._db.fetch(
            f"SELECT n.gitlab_id AS linked_gitlab_id, {SUBSCRIPTION_COLUMNS}"
            " FROM namespace n JOIN subscription s ON s.namespace = n.id"
            f" WHERE {where.sql()} ORDER BY s.id",
            *where.args,
        )
        linked: dict[int, list[Subscription]] = {}
        for row in rows:
            linked.setdefault(row["linked_gitlab_id"], []).append(subscription_from_row(row))
        return linked
