"""Micro-batching: many concurrent requests, one inference worker, one shared scorer per set.

Requests are queued by the asyncio front with their token counts. A single worker thread takes
the oldest request and every later one for the same neuron set that still fits the token
budget, scores them in one :meth:`Scorer.score` call (which sorts by length and packs forward
passes under ``batching.batch_tokens``), then hands each request exactly its own slice of the
results. One worker because the model is one device's worth of compute: a second would only
fight the first for it; batching, not parallel workers, is what fills it.

Overload is explicit: a full queue is a 429 with a Retry-After estimated from the measured
token rate; a request that outlives ``request_timeout_s`` is dropped from the queue and
answered 503; closing stops intake and drains what was accepted.
"""

from __future__ import annotations

import asyncio
import copy
import logging
import threading
import time
from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass, field

from rosetta_filter.activations.models import LoadedModel
from rosetta_filter.activations.tokenize import TextTokenizer, text_problem
from rosetta_filter.config import TokensConfig
from rosetta_filter.scoring.scorer import ScoredDoc, Scorer
from service.errors import LimitExceeded, Overloaded, RequestTimeout, Unavailable
from service.metrics import ServiceMetrics

log = logging.getLogger(__name__)

_RATE_SMOOTHING = 0.3  # weight of the newest micro-batch in the tokens/s estimate
_MAX_RETRY_AFTER_S = 60.0


@dataclass(eq=False, slots=True)
class _Job:
    scorer: Scorer
    texts: list[str]
    tokens: int
    with_neurons: bool
    loop: asyncio.AbstractEventLoop
    future: asyncio.Future = field(repr=False)


class TokenCounter:
    """Counts the tokens each text will occupy in the forward pass (special tokens and the
    truncation / window policy included), on its own tokenizer copy: Hugging Face fast
    tokenizers must not be used from two threads at once, and the worker uses the original."""

    def __init__(self, model: LoadedModel, tokens: TokensConfig) -> None:
        self._tokenizer = TextTokenizer(
            copy.deepcopy(model.tokenizer), max_tokens=tokens.max_tokens, long_docs=tokens.long_docs
        )
        self._lock = threading.Lock()

    def __call__(self, texts: Sequence[str]) -> int:
        valid = [t for t in texts if text_problem(t) is None]
        with self._lock:
            docs = self._tokenizer.encode(valid)
        return sum(len(w.ids) for doc in docs for w in doc.windows)


class Batcher:
    def __init__(
        self,
        counter: TokenCounter,
        *,
        max_batch_tokens: int,
        max_queue_docs: int,
        metrics: ServiceMetrics,
        max_request_tokens: int | None = None,
    ) -> None:
        self.counter = counter
        self.max_request_tokens = max_request_tokens
        self.max_batch_tokens = max_batch_tokens
        self.max_queue_docs = max_queue_docs
        self.metrics = metrics
        self._queue: deque[_Job] = deque()
        self._cond = threading.Condition()
        self._queued_docs = 0
        self._queued_tokens = 0
        self._closing = False
        self._running: list[_Job] = []  # the micro-batch the worker is scoring
        self._tokens_per_s: float | None = None
        self._worker = threading.Thread(target=self._work, name="rosetta-inference", daemon=True)

    @property
    def accepting(self) -> bool:
        return self._worker.is_alive() and not self._closing

    def start(self) -> None:
        self._worker.start()

    async def submit(
        self,
        scorer: Scorer,
        texts: list[str],
        *,
        with_neurons: bool = False,
        timeout: float,
    ) -> list[ScoredDoc]:
        """Score ``texts`` with ``scorer`` in some micro-batch; results in ``texts`` order."""
        loop = asyncio.get_running_loop()
        job: _Job | None = None
        answered = False
        try:
            async with asyncio.timeout(timeout):
                tokens = await asyncio.to_thread(self.counter, texts)
                if self.max_request_tokens is not None and tokens > self.max_request_tokens:
                    raise LimitExceeded(
                        f"{tokens} tokens to score in one request; server.max_tokens_per_request"
                        f"={self.max_request_tokens}: split the request",
                        field="documents",
                    )
                job = _Job(scorer, texts, tokens, with_neurons, loop, loop.create_future())
                self._enqueue(job)
                result = await job.future
                answered = True
                return result
        except TimeoutError:
            raise RequestTimeout(
                f"request not answered within server.request_timeout_s={timeout}: the server "
                "is busy; retry later or send fewer documents per request",
                retry_after=self._retry_after(),
            ) from None
        finally:
            if job is not None and not answered:  # timed out, refused, or the client left
                job.future.cancel()
                self._withdraw(job)

    def _enqueue(self, job: _Job) -> None:
        with self._cond:
            if not self.accepting:
                raise Unavailable(
                    "the server is shutting down: retry on another replica", retry_after=1.0
                )
            if self._queued_docs + len(job.texts) > self.max_queue_docs:
                raise Overloaded(
                    f"queue full ({self._queued_docs} documents waiting, "
                    f"server.max_queue_docs={self.max_queue_docs}): retry after the "
                    "Retry-After seconds",
                    retry_after=self._retry_after(),
                )
            self._queue.append(job)
            self._account(job, +1)
            self._cond.notify()

    def _withdraw(self, job: _Job) -> None:
        with self._cond:
            if job in self._queue:
                self._queue.remove(job)
                self._account(job, -1)

    def _account(self, job: _Job, sign: int) -> None:
        """Queue counters and gauges; the caller holds the lock."""
        self._queued_docs += sign * len(job.texts)
        self._queued_tokens += sign * job.tokens
        self.metrics.queue_documents.set(self._queued_docs)
        self.metrics.queue_requests.set(len(self._queue))

    def _retry_after(self) -> float:
        """Seconds until the queue as it stands would be worked off, 1 to 60."""
        rate = self._tokens_per_s
        if not rate:
            return 1.0
        return min(max(self._queued_tokens / rate, 1.0), _MAX_RETRY_AFTER_S)

    def begin_shutdown(self, grace_s: float) -> None:
        """On SIGTERM (call on the event loop): stop taking requests now, let the worker go
        on with what it holds, and after ``grace_s`` answer every request still waiting the
        503 envelope with Retry-After, before the server's own shutdown timeout would cancel
        them into bare 500s."""
        with self._cond:
            self._closing = True
            self._cond.notify_all()
        asyncio.get_running_loop().call_later(grace_s, self._give_up)

    def _give_up(self) -> None:
        """Answer every queued and running request 503; the worker stops between parts."""
        with self._cond:
            jobs = [*self._queue, *self._running]
            for job in self._queue:
                self._account(job, -1)
            self._queue.clear()
        if jobs:
            log.warning("shutdown: answering %d waiting requests 503", len(jobs))
        for job in jobs:
            unavailable = Unavailable(
                "the server is shutting down: retry on another replica", retry_after=1.0
            )
            job.loop.call_soon_threadsafe(_settle, job.future, None, unavailable)

    async def close(self) -> None:
        """Stop taking requests, finish every queued one, stop the worker."""
        with self._cond:
            self._closing = True
            self._cond.notify_all()
        await asyncio.to_thread(self._worker.join)

    def _work(self) -> None:
        while True:
            with self._cond:
                while not self._queue and not self._closing:
                    self._cond.wait()
                if not self._queue:
                    return  # closing and drained
                jobs = self._take()
                self._running = jobs
            self._run(jobs)
            with self._cond:
                self._running = []

    def _take(self) -> list[_Job]:
        """The oldest job plus later jobs of the same scorer that fit the token budget."""
        head = self._queue.popleft()
        jobs, tokens, rest = [head], head.tokens, deque()
        for job in self._queue:
            if job.scorer is head.scorer and tokens + job.tokens <= self.max_batch_tokens:
                jobs.append(job)
                tokens += job.tokens
            else:
                rest.append(job)
        self._queue = rest
        for job in jobs:
            self._account(job, -1)
        return jobs

    def _run(self, jobs: list[_Job]) -> None:
        texts = [t for job in jobs for t in job.texts]
        with_neurons = any(j.with_neurons for j in jobs)
        started = time.perf_counter()
        scored: list[ScoredDoc] = []
        try:
            for begin, end in self._parts(jobs, len(texts)):
                if scored and all(job.future.done() for job in jobs):
                    # Every client timed out or left: the rest would be computed for nobody.
                    self.metrics.documents.labels("abandoned").inc(len(texts) - begin)
                    log.info("abandoned %d documents of a cancelled request", len(texts) - begin)
                    return
                scored += _score_valid(jobs[0].scorer, texts[begin:end], with_neurons=with_neurons)
        except Exception as exc:  # answered to every request of the batch, worker lives on
            log.exception("scoring a micro-batch of %d documents failed", len(texts))
            for job in jobs:
                job.loop.call_soon_threadsafe(_settle, job.future, None, exc)
            return
        seconds = time.perf_counter() - started
        tokens = sum(d.n_tokens for d in scored)
        self._observe(len(jobs), scored, tokens, seconds)
        start = 0
        for job in jobs:
            mine = scored[start : start + len(job.texts)]
            start += len(job.texts)
            job.loop.call_soon_threadsafe(_settle, job.future, mine, None)

    def _parts(self, jobs: list[_Job], n_texts: int) -> list[tuple[int, int]]:
        """Ranges of the micro-batch's texts scored one after another. Jobs taken together fit
        the token budget and run as one part; a single request over the budget runs in parts of
        about the budget, so its work stops between parts once its client is gone (timeout)."""
        (job, *others) = jobs
        if others or job.tokens <= self.max_batch_tokens or n_texts < 2:
            return [(0, n_texts)]
        per_part = max(1, self.max_batch_tokens * n_texts // max(job.tokens, 1))
        return [(i, min(i + per_part, n_texts)) for i in range(0, n_texts, per_part)]

    def _observe(self, n_jobs: int, scored: list[ScoredDoc], tokens: int, seconds: float) -> None:
        m = self.metrics
        m.batch_requests.observe(n_jobs)
        m.batch_documents.observe(len(scored))
        m.batch_tokens.observe(tokens)
        m.batch_seconds.observe(seconds)
        m.tokens.inc(tokens)
        skipped = sum(d.skip_reason is not None for d in scored)
        m.documents.labels("scored").inc(len(scored) - skipped)
        m.documents.labels("skipped").inc(skipped)
        if tokens and seconds > 0:
            rate = tokens / seconds
            old = self._tokens_per_s
            self._tokens_per_s = rate if old is None else old + _RATE_SMOOTHING * (rate - old)


def _score_valid(scorer: Scorer, texts: list[str], *, with_neurons: bool) -> list[ScoredDoc]:
    """``scorer.score(texts)``, except that unscorable texts (empty, lone surrogates) get their
    skip reason here and never reach the engine: they need no model time."""
    problems = [text_problem(t) for t in texts]
    valid = [t for t, p in zip(texts, problems, strict=True) if p is None]
    scored = iter(scorer.score(valid, with_neurons=with_neurons) if valid else ())
    return [
        next(scored) if p is None else ScoredDoc(i, None, skip_reason=p)
        for i, p in enumerate(problems)
    ]


def _settle(
    future: asyncio.Future, result: list[ScoredDoc] | None, exc: BaseException | None
) -> None:
    """Runs on the request's event loop; a timed-out request's future is already cancelled."""
    if future.done():
        return
    if exc is not None:
        future.set_exception(exc)
    else:
        future.set_result(result)
