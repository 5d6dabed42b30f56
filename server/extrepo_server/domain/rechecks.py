"""Background re-checks: every repository's credentials are checked again now and
then (Schedule), so that its verification stays true when a password expires or a
repository is removed from its registry. Listing and getting never check.

Each server runs one loop. It polls the shared queue (ports.CheckQueue) for due
repositories, claims each (so that of several replicas only one checks it) and
checks it in a task of its own: a slow registry delays only its own checks. At most
`per_host` checks run at once against one registry host, and at most `in_flight`
in all. A server that stops mid-check loses nothing: the claim lapses and the
repository is due again.
"""

from __future__ import annotations

import asyncio
import logging
from datetime import UTC, datetime, timedelta

from .credentials import open_credentials
from .errors import DomainError, Unavailable
from .names import parse_name
from .ports import CheckQueue, Cipher, DueCheck
from .verification import Verifier

log = logging.getLogger("extrepo.rechecks")


class Rechecker:
    def __init__(
        self,
        queue: CheckQueue,
        verifier: Verifier,
        cipher: Cipher,
        *,
        per_host: int,
        check_timeout: timedelta,
        in_flight: int = 64,
    ) -> None:
        self._queue = queue
        self._verifier = verifier
        self._cipher = cipher
        self._per_host = per_host
        self._in_flight_limit = in_flight
        # A claimed check that has not recorded anything by then is taken again.
        self._lease = check_timeout * 2 + timedelta(seconds=30)
        interval = verifier.schedule.interval.total_seconds()
        # How often the queue is polled: a tenth of the interval, within [0.1 s, 5 s];
        # one indexed query each time.
        self.poll_seconds = min(5.0, max(0.1, interval / 10))
        self._hosts: dict[str, asyncio.Semaphore] = {}
        self._tasks: dict[int, asyncio.Task] = {}
        self._loop_task: asyncio.Task | None = None

    @property
    def enabled(self) -> bool:
        return self._verifier.enabled and self._verifier.schedule.enabled

    async def run(self) -> None:
        """Poll and check until cancelled; a failing poll (the database down) is
        logged and retried at the next one."""
        # Repositories stored while checks (or re-checks) were off, or at a host that
        # was forbidden then, have no due time: with this server's settings, they do.
        while True:
            try:
                queued = await self._queue.schedule_unscheduled(datetime.now(UTC))
                if queued:
                    log.info("re-checks scheduled", extra={"repositories": queued})
                break
            except Exception:
                log.warning("scheduling re-checks failed; retrying", exc_info=True)
                await asyncio.sleep(self.poll_seconds)
        while True:
            try:
                await self.poll()
            except Exception:
                log.warning("re-check poll failed; retrying", exc_info=True)
            await asyncio.sleep(self.poll_seconds)

    async def poll(self) -> int:
        """Start the checks that are due; how many were started."""
        room = self._in_flight_limit - len(self._tasks)
        if room <= 0:
            return 0
        now = datetime.now(UTC)
        started = 0
        for due in self._queue.due(now, room):
            if due.repository_id in self._tasks:
                continue
            if not await self._queue.claim(due, now + self._lease):
                continue  # another replica has it
            task = asyncio.create_task(self._check(due))
            self._tasks[due.repository_id] = task
            task.add_done_callback(lambda _, rid=due.repository_id: self._tasks.pop(rid, None))
            started += 1
        return started

    def start(self) -> None:
        """Run the loop in a task of the running event loop, until `stop()`."""
        self._loop_task = asyncio.create_task(self.run(), name="extrepo-rechecks")

    async def stop(self) -> None:
        """End the loop and cancel the checks in progress (their claims lapse)."""
        if self._loop_task is not None:
            self._loop_task.cancel()
            await asyncio.gather(self._loop_task, return_exceptions=True)
            self._loop_task = None
        tasks = list(self._tasks.values())
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)

    async def _check(self, due: DueCheck) -> None:
        try:
            parsed = parse_name(due.name)
        except DomainError:
            log.warning(
                "re-check skipped: stored name does not parse", extra={"id": due.repository_id}
            )
            return
        try:
            credentials = open_credentials(self._cipher, due.credentials)
        except Unavailable:
            # A key this server does not hold yet (a rotation under way): another
            # replica, or this one after a restart, takes it when the claim lapses.
            log.warning(
                "re-check skipped: credentials under a key not loaded",
                extra={"repository": due.name},
            )
            return
        semaphore = self._hosts.setdefault(parsed.host, asyncio.Semaphore(self._per_host))
        try:
            async with semaphore:
                check = await self._verifier.check(parsed.host, parsed.path, credentials)
            verification = check.verification
            failures = self._verifier.failures_after(verification, due.failures)
            recorded = await self._queue.record(
                due,
                parsed.host,
                verification,
                next_check_at=self._verifier.next_check(verification, due.failures),
                failures=failures,
            )
        except DomainError as exc:  # the database, while recording
            log.warning(
                "re-check not recorded", extra={"repository": due.name, "error": exc.message}
            )
            return
        log.info(
            "re-checked",
            extra={
                "repository": due.name,
                "state": verification.state.name,
                "recorded": recorded,
            },
        )
