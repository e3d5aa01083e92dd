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
import contextvars
from collections.abc import Awaitable, Callable, Coroutine, Generator
from datetime import UTC, datetime
from typing import Any

import httpx
from telegram import Update
from telegram.ext import Application, BaseUpdateProcessor

UPDATE_HEADER = "X-Sandbox-Update-Id"

_cause: contextvars.ContextVar[int | None] = contextvars.ContextVar("crm_bot_update", default=None)


def current_update_id() -> int | None:
    """The id of the update whose processing is running here (``None`` outside one)."""
    return _cause.get()


class _TrackingUpdateProcessor(BaseUpdateProcessor):
    def __init__(self, activity: ApplicationActivity, max_concurrent_updates: int) -> None:
        super().__init__(max_concurrent_updates)
        self._activity = activity

    async def do_process_update(self, update: object, coroutine: Awaitable[Any]) -> None:
        update_id = update.update_id if isinstance(update, Update) else None
        token = _cause.set(update_id)
        self._activity._begin()
        try:
            await coroutine
        finally:
            _cause.reset(token)
            self._activity._end()

    async def initialize(self) -> None:
        return None

    async def shutdown(self) -> None:
        return None


class _TrackingExecutor(concurrent.futures.ThreadPoolExecutor):
    def __init__(self, activity: ApplicationActivity) -> None:
        super().__init__(thread_name_prefix="crm-bot-worker")
        self._activity = activity

    def submit(self, fn: Callable[..., Any], /, *args: Any, **kwargs: Any) -> concurrent.futures.Future[Any]:
        future = super().submit(fn, *args, **kwargs)
        if _cause.get() is not None:
            self._activity._thread_started(future)
        return future


class ApplicationActivity:
    """Counts an Application's unfinished work; ``pending_work()`` is ``None`` when idle.

    Build the Application with :attr:`update_processor` and
    :meth:`httpx_kwargs`, then :meth:`attach` it once the event loop runs.
    ``waker`` (set by whoever waits, e.g. the sandbox) is called on every
    change, from the event loop's thread.
    """

    def __init__(self, max_concurrent_updates: int = 1) -> None:
        self.update_processor: BaseUpdateProcessor = _TrackingUpdateProcessor(
            self, max_concurrent_updates
        )
        self.waker: Callable[[], None] = lambda: None
        self._application: Application | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._previous_factory: Any = None
        self._updates = 0
        self._tasks: set[asyncio.Future[Any]] = set()
        self._threads = 0
        self._jobs_running = 0

    # -- wiring ---------------------------------------------------------------

    def httpx_kwargs(self) -> dict[str, Any]:
        """For ``HTTPXRequest(httpx_kwargs=…)``: tags each request with its update."""
        return {"event_hooks": {"request": [_tag_request]}}

    def attach(self, application: Application) -> None:
        """Start counting tasks, threads and jobs (call inside the running loop)."""
        self._application = application
        loop = asyncio.get_running_loop()
        self._loop = loop
        self._previous_factory = loop.get_task_factory()
        loop.set_task_factory(self._task_factory)
        loop.set_default_executor(_TrackingExecutor(self))
        if application.job_queue is not None:
            from apscheduler.events import (
                EVENT_JOB_ERROR,
                EVENT_JOB_EXECUTED,
                EVENT_JOB_MAX_INSTANCES,
                EVENT_JOB_MISSED,
                EVENT_JOB_SUBMITTED,
            )

            def on_job(event: Any) -> None:
                if event.code == EVENT_JOB_SUBMITTED:
                    self._jobs_running += 1
                elif event.code in (EVENT_JOB_EXECUTED, EVENT_JOB_ERROR):
                    self._jobs_running = max(0, self._jobs_running - 1)
                self._wake()

            application.job_queue.scheduler.add_listener(
                on_job,
                EVENT_JOB_SUBMITTED | EVENT_JOB_EXECUTED | EVENT_JOB_ERROR
                | EVENT_JOB_MISSED | EVENT_JOB_MAX_INSTANCES,
            )

    def detach(self) -> None:
        """Restore the loop's task factory."""
        if self._loop is not None and self._loop.get_task_factory() == self._task_factory:
            self._loop.set_task_factory(self._previous_factory)
        self._loop = None

    # -- the answer -----------------------------------------------------------

    def pending_work(self) -> str | None:
        """What is still running, in words; ``None`` when the bot is idle."""
        application = self._application
        queued = application.update_queue.qsize() if application is not None else 0
        parts = []
        if queued:
            parts.append(f"{queued} update(s) queued")
        if self._updates:
            parts.append(f"{self._updates} update(s) in progress")
        if self._tasks:
            parts.append(f"{len(self._tasks)} task(s) started by a handler")
        if self._threads:
            parts.append(f"{self._threads} worker thread job(s)")
        if self._jobs_running:
            parts.append(f"{self._jobs_running} job(s) running")
        due = self._due_jobs()
        if due:
            parts.append(f"{due} job(s) due")
        return ", ".join(parts) or None

    def _due_jobs(self) -> int:
        application = self._application
        if application is None or application.job_queue is None:
            return 0
        scheduler = application.job_queue.scheduler
        if not scheduler.running:
            return 0
        now = datetime.now(UTC)
        return sum(
            1
            for job in scheduler.get_jobs()
            if job.next_run_time is not None and job.next_run_time <= now
        )

    # -- counting ---------------------------------------------------------------

    def _wake(self) -> None:
        self.waker()

    def _begin(self) -> None:
        self._updates += 1
        self._wake()

    def _end(self) -> None:
        self._updates -= 1
        self._wake()

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
        if _cause.get() is not None:
            self._tasks.add(task)
            task.add_done_callback(self._task_done)
        return task

    def _task_done(self, task: asyncio.Future[Any]) -> None:
        self._tasks.discard(task)
        self._wake()

    def _thread_started(self, future: concurrent.futures.Future[Any]) -> None:
        loop = self._loop
        if loop is None:
            return
        self._threads += 1

        def finished() -> None:
            self._threads -= 1
            self._wake()

        future.add_done_callback(lambda _: loop.call_soon_threadsafe(finished))


async def _tag_request(request: httpx.Request) -> None:
    update_id = _cause.get()
    if update_id is not None:
        request.headers[UPDATE_HEADER] = str(update_id)
