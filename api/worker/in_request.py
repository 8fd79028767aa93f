"""A worker step run inside a request: a GitLab.com trial is provisioned before its 2xx,
through the worker's own step path (used by api/rest/gitlab_com.py, built by api/app.py)."""

from __future__ import annotations

import asyncio
import logging
import uuid
from datetime import datetime

from api.worker.loop import Worker
from domain.model.provision_event import ProvisionStatus
from domain.model.provisioning import NAMESPACE_PROVISION
from persistence.database import Database
from persistence.ledger import unfinished_steps

logger = logging.getLogger("provision.worker")


TRIAL_NOT_PROVISIONED = (
    "the trial could not be set up on GitLab.com yet; it is being retried, try again shortly"
)


class TrialProvisioning:
    """A GitLab.com trial is provisioned before its request is answered: GitLab reads the
    add-on purchase right after the 2xx to assign the user's seat. The NAMESPACE_PROVISION rows
    the trial recorded run here at once through the worker's own step path
    (``Worker.run_now``: a lease, the same handler, attempts counted, the same outcome and
    backoff), within ``timeout`` seconds in all. A step that fails or takes longer stays on the
    ledger, and the workers retry it as any other."""

    def __init__(self, db: Database, worker: Worker | None, timeout: float) -> None:
        self._db = db
        self._worker = worker
        self._timeout = timeout

    async def finish(self, namespace_id: uuid.UUID, since: datetime) -> str | None:
        """Run the namespace's unfinished NAMESPACE_PROVISION rows recorded since ``since``
        (a trial's, or a repeated request's left over from the first). None when GitLab.com
        acknowledged them all; else why not, to answer with."""
        if self._worker is None:
            logger.warning("a trial could not be provisioned: GITLAB_COM_URL is not set")
            return TRIAL_NOT_PROVISIONED
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self._timeout
        for event_id in await unfinished_steps(self._db, NAMESPACE_PROVISION, namespace_id, since):
            while True:
                left = deadline - loop.time()
                if left <= 0:
                    logger.warning("provisioning %s did not finish within the request", event_id)
                    return TRIAL_NOT_PROVISIONED
                event = await self._worker.run_now(event_id, left)
                if event is None:  # a worker holds it, or it finished meanwhile
                    current = await self._worker.ledger.get(event_id)
                    if current is None or current.status in _DONE:
                        break
                    if current.status is not ProvisionStatus.DEAD:
                        await asyncio.sleep(min(_WAIT_FOR_WORKER, left))  # another's attempt
                        continue
                    event = current
                elif event.status is ProvisionStatus.SUCCEEDED:
                    break
                logger.warning(
                    "provisioning %s failed within the request (attempt %d): %s",
                    event_id,
                    event.attempts,
                    event.last_error,
                )
                return TRIAL_NOT_PROVISIONED
        return None


_DONE = (ProvisionStatus.SUCCEEDED, ProvisionStatus.RESOLVED)
_WAIT_FOR_WORKER = 0.1
"""How often a request checks on a step a worker is running for it."""
