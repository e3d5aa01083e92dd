"""What a python-telegram-bot Application is still doing, so a driver can wait for it.

The sandbox's waits (tests, the console) must end when the bot has finished
processing an update — its handlers returned and nothing they started is
still running — never after a wall-clock quiet window. This module tracks
that from the bot's side, through PTB's public extension points:

- an update processor (``ApplicationBuilder.concurrent_updates``) counts the
  updates in progress and marks everything they do with the update's id
  (a context variable, which asyncio copies into every task a handler
  creates and into ``run_in_executor`` calls);
- a task factory counts the tasks created under that mark
  (``asyncio.create_task``, ``Application.create_task``);
- a default executor counts worker-thread jobs submitted under it
  (``asyncio.to_thread``, ``loop.run_in_executor(None, …)``);
- the JobQueue's APScheduler reports jobs submitted and finished, and a job
  that is due counts as pending until it has run;
- an httpx request hook puts the update's id on every Bot API request
  (``X-Sandbox-Update-Id``), so the sandbox ties each message and callback
  answer to the update that caused it.

Only the sandbox harness attaches it; a bot talking to Telegram never sends
the header.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import contextvars
from collections import Counter
from collections.abc import Awaitable, Callable, Coroutine, Generator
from datetime import UTC, datetime
from typing import Any

import httpx
from apscheduler.events import (
    EVENT_JOB_ADDED,
    EVENT_JOB_ERROR,
    EVENT_JOB_EXECUTED,
    EVENT_JOB_SUBMITTED,
    JobEvent,
)
from telegram import Update
from telegram.ext import Application, BaseUpdateProcessor

from bot.telegram_request import shared_tls

UPDATE_HEADER = "X-Sandbox-Update-Id"

_cause: contextvars.ContextVar[int | None] = contextvars.ContextVar("crm_bot_update", default=None)
# Which activity's update that is: several Applications (webhook replicas in one test) share one
# event loop, its task factory chain and its one default executor; each counts only its own work.
_owner: contextvars.ContextVar[ApplicationActivity | None] = contextvars.ContextVar(
    "crm_bot_activity", default=None
)


def current_update_id() -> int | None:
    """The id of the update whose processing is running here (``None`` outside one)."""
    return _cause.get()


class _TrackingUpdateProcessor(BaseUpdateProcessor):
    """Marks and counts each update, then lets ``inner`` (if any) decide when it runs.

    The update counts as in progress from the moment PTB hands it over, so
    an update waiting for its turn in ``inner`` (e.g. behind the same user's
    previous update) is still pending for a driver that waits for it.
    """

    def __init__(
        self,
        activity: ApplicationActivity,
        max_concurrent_updates: int,
        inner: BaseUpdateProcessor | None = None,
    ) -> None:
        super().__init__(
            inner.max_concurrent_updates if inner is not None else max_concurrent_updates
        )
        self._activity = activity
        self.inner = inner

    async def do_process_update(self, update: object, coroutine: Awaitable[Any]) -> None:
        update_id = update.update_id if isinstance(update, Update) else None
        token = _cause.set(update_id)
        owner = _owner.set(self._activity)
        self._activity._begin(update_id)
        try:
            if self.inner is not None:
                await self.inner.do_process_update(update, coroutine)
            else:
                await coroutine
        finally:
            _cause.reset(token)
            _owner.reset(owner)
            self._activity._end(update_id)

    async def initialize(self) -> None:
        if self.inner is not None:
            await self.inner.initialize()

    async def shutdown(self) -> None:
        if self.inner is not None:
            await self.inner.shutdown()


class _TrackingExecutor(concurrent.futures.ThreadPoolExecutor):
    """Counts each job for the activity whose update submitted it (the loop has one executor)."""

    def __init__(self, activity: ApplicationActivity) -> None:
        super().__init__(thread_name_prefix="crm-bot-worker")

    def submit(
        self, fn: Callable[..., Any], /, *args: Any, **kwargs: Any
    ) -> concurrent.futures.Future[Any]:
        future = super().submit(fn, *args, **kwargs)
        cause, owner = _cause.get(), _owner.get()
        if cause is not None and owner is not None:
            owner._thread_started(cause, future)
        return future


class ApplicationActivity:
    """Counts an Application's unfinished work, per update that caused it.

    Build the Application with :attr:`update_processor` (or :meth:`wrap` the
    bot's own processor, or pass it as ``inner``) and :meth:`httpx_kwargs`, then :meth:`attach` it once the event loop runs.
    ``waker`` (set by whoever waits, e.g. the sandbox) is called on every
    change, from the event loop's thread.
    """

    def __init__(
        self, max_concurrent_updates: int = 1, *, inner: BaseUpdateProcessor | None = None
    ) -> None:
        self.update_processor: _TrackingUpdateProcessor = _TrackingUpdateProcessor(
            self, max_concurrent_updates, inner
        )
        self.waker: Callable[[], None] = lambda: None
        self._application: Application | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._previous_factory: Any = None
        # Every update begun: a webhook may hand updates over out of order (different chats'
        # POSTs side by side), so "a later one started" does not mean this one did.
        self._started: set[int] = set()
        self._in_progress: Counter[int | None] = Counter()
        self._tasks: dict[asyncio.Future[Any], int] = {}
        self._tasks_by_cause: Counter[int] = Counter()  # the same tasks, counted per update
        self._threads: Counter[int] = Counter()
        self._job_causes: dict[str, int | None] = {}
        self._jobs_added: dict[int, set[str]] = {}  # per update, the ids of the jobs it added
        self._jobs_running: Counter[int | None] = Counter()

    # -- wiring ---------------------------------------------------------------

    def wrap(self, inner: BaseUpdateProcessor) -> BaseUpdateProcessor:
        """Track ``inner``'s updates: it keeps deciding their order and concurrency.

        The bot's own processor (``bot.concurrency``) goes here, so a sandbox
        run orders updates exactly as production does. Returns the processor
        to give ``ApplicationBuilder.concurrent_updates``.
        """
        self.update_processor = _TrackingUpdateProcessor(self, 1, inner)
        return self.update_processor

    def httpx_kwargs(self) -> dict[str, Any]:
        """For ``HTTPXRequest(httpx_kwargs=…)``: tags each request with its update (and shares
        the process's TLS context, ``bot.telegram_request.tls_context``)."""
        return shared_tls({"event_hooks": {"request": [_tag_request]}})

    def attach(self, application: Application) -> None:
        """Start counting tasks, threads and jobs (call inside the running loop)."""
        self._application = application
        loop = asyncio.get_running_loop()
        self._loop = loop
        self._previous_factory = loop.get_task_factory()
        loop.set_task_factory(self._task_factory)
        loop.set_default_executor(_TrackingExecutor(self))
        if application.job_queue is not None:
            application.job_queue.scheduler.add_listener(
                self._on_job,
                EVENT_JOB_ADDED | EVENT_JOB_SUBMITTED | EVENT_JOB_EXECUTED | EVENT_JOB_ERROR,
            )

    def detach(self) -> None:
        """Restore the loop's task factory."""
        if self._loop is not None and self._loop.get_task_factory() == self._task_factory:
            self._loop.set_task_factory(self._previous_factory)
        self._loop = None

    # -- the answer -----------------------------------------------------------

    def pending_work(self, update_id: int | None = None) -> str | None:
        """What is still running for ``update_id`` (for anything when ``None``), in words.

        ``None`` means finished: the update was taken from the queue, its
        handlers returned, and no task, worker-thread job or job it started
        is left.
        """
        parts = []
        if update_id is None:
            queued = self._application.update_queue.qsize() if self._application else 0
            if queued:
                parts.append(f"{queued} update(s) queued")
        elif update_id not in self._started:
            parts.append(f"update {update_id} not started")
        in_progress = self._count(self._in_progress, update_id)
        tasks = self._count(self._tasks_by_cause, update_id)
        threads = self._count(self._threads, update_id)
        running = self._count(self._jobs_running, update_id)
        due = self._due_jobs(update_id)
        for number, what in (
            (in_progress, "update(s) in progress"),
            (tasks, "task(s) started by a handler"),
            (threads, "worker thread job(s)"),
            (running, "job(s) running"),
            (due, "job(s) due"),
        ):
            if number:
                parts.append(f"{number} {what}")
        return ", ".join(parts) or None

    @staticmethod
    def _count(counts: Counter[Any], update_id: int | None) -> int:
        return sum(counts.values()) if update_id is None else counts[update_id]

    def _due_jobs(self, update_id: int | None) -> int:
        application = self._application
        if application is None or application.job_queue is None:
            return 0
        scheduler = application.job_queue.scheduler
        if not scheduler.running:
            return 0
        now = datetime.now(UTC)
        if update_id is None:
            jobs = scheduler.get_jobs()
        else:  # only the jobs this update added (most updates add none), not every job
            ids = self._jobs_added.get(update_id)
            if not ids:
                return 0
            jobs = []
            for job_id in list(ids):
                job = scheduler.get_job(job_id)
                if job is None:
                    ids.discard(job_id)
                else:
                    jobs.append(job)
            if not ids:
                del self._jobs_added[update_id]
        return sum(1 for job in jobs if job.next_run_time is not None and job.next_run_time <= now)

    # -- counting ---------------------------------------------------------------

    def _begin(self, update_id: int | None) -> None:
        if update_id is not None:
            self._started.add(update_id)
        self._in_progress[update_id] += 1
        self.waker()

    def _end(self, update_id: int | None) -> None:
        self._in_progress[update_id] -= 1
        if not self._in_progress[update_id]:
            del self._in_progress[update_id]
        self.waker()

    def _task_factory(
        self,
        loop: asyncio.AbstractEventLoop,
        coro: Coroutine[Any, Any, Any] | Generator[Any, None, Any],
        **kwargs: Any,
    ) -> asyncio.Future[Any]:
        if self._previous_factory is not None:
            task = self._previous_factory(loop, coro, **kwargs)
        else:
            task = asyncio.Task(coro, loop=loop, **kwargs)  # type: ignore[arg-type]
        cause = _cause.get()
        if cause is not None and _owner.get() is self:
            self._tasks[task] = cause
            self._tasks_by_cause[cause] += 1
            task.add_done_callback(self._task_done)
        return task

    def _task_done(self, task: asyncio.Future[Any]) -> None:
        cause = self._tasks.pop(task, None)
        if cause is not None:
            self._tasks_by_cause[cause] -= 1
            if not self._tasks_by_cause[cause]:
                del self._tasks_by_cause[cause]
        self.waker()

    def _thread_started(self, cause: int, future: concurrent.futures.Future[Any]) -> None:
        loop = self._loop
        if loop is None:
            return
        self._threads[cause] += 1

        def finished() -> None:
            self._threads[cause] -= 1
            if not self._threads[cause]:
                del self._threads[cause]
            self.waker()

        def done(_: concurrent.futures.Future[Any]) -> None:
            with contextlib.suppress(RuntimeError):  # the loop closed meanwhile
                loop.call_soon_threadsafe(finished)

        future.add_done_callback(done)

    def _on_job(self, event: JobEvent) -> None:
        # Added inside a handler, a job belongs to that update (the listener runs in add_job).
        if event.code == EVENT_JOB_ADDED:
            cause = _cause.get()
            self._job_causes[event.job_id] = cause
            if cause is not None:
                self._jobs_added.setdefault(cause, set()).add(event.job_id)
        elif event.code == EVENT_JOB_SUBMITTED:
            self._jobs_running[self._job_causes.get(event.job_id)] += 1
        else:
            cause = self._job_causes.get(event.job_id)
            self._jobs_running[cause] -= 1
            if self._jobs_running[cause] <= 0:
                del self._jobs_running[cause]
        self.waker()


async def _tag_request(request: httpx.Request) -> None:
    update_id = _cause.get()
    if update_id is not None:
        request.headers[UPDATE_HEADER] = str(update_id)
