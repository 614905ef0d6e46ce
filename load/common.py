"""What the shop's Locust users share: one way to send a request and judge its answer.

Every request goes through `call`: it names the request by journey step (so Locust's statistics
group by step, not by URL), sends JSON bodies with `Content-Type: application/json` and a fresh
or given `Idempotency-Key` on every command, and sorts the answer into one of three kinds:

- success: the 2xx the step expects;
- a business outcome (an order rejected as `out_of_stock` or `cart_changed`, ...): the shop
  working as designed, reported to Locust as a success and counted under its code;
- a failure, reported to Locust with its kind as the message (`5xx 503 unavailable`, `timeout`,
  `connection ConnectionRefusedError`, `decode`, `4xx 400 bad_request`), so Locust's failures
  table counts failures by kind.

Outcomes are printed when Locust stops and written to `$LOAD_OUT/<scenario>_outcomes.json`.
"""

import json
import os
import socket
import threading
import uuid
from collections import Counter

from gevent.timeout import Timeout as GeventTimeout
from locust import events, stats

ADMIN_TOKEN = os.environ.get("ADMIN_TOKEN", "dev-admin-token")
OUT_DIR = os.environ.get("LOAD_OUT", "target/load")
SCENARIO = os.environ.get("SCENARIO", "shop")

# (step, outcome) -> count, for everything that was not a plain success.
outcomes = Counter()
_lock = threading.Lock()


def count(step, outcome):
    with _lock:
        outcomes[(step, outcome)] += 1


def new_key():
    return uuid.uuid4().hex


class Answer:
    """A judged answer: `ok` (success or business outcome), the HTTP status (0 if none came),
    the JSON body if any, the API's error code if any, and the failure kind if not ok."""

    __slots__ = ("ok", "status", "body", "code", "kind")

    def __init__(self, ok, status, body=None, code=None, kind=None):
        self.ok, self.status, self.body, self.code, self.kind = ok, status, body, code, kind

    @property
    def network_error(self):
        return self.status == 0


def _exception_kind(e):
    if isinstance(e, (GeventTimeout, socket.timeout, TimeoutError)) or "timed out" in str(e):
        return "timeout"
    return f"connection {type(e).__name__}"


def call(client, method, path, step, body=None, key=None, admin=False, expect=(200,), outcomes_ok=()):
    """Sends one request as journey step `step` and judges it.

    `expect`: the success statuses; `outcomes_ok`: API error codes that are business outcomes
    (counted, reported as successes). Commands (`key` given) carry an `Idempotency-Key`."""
    headers = {"Accept": "application/json"}
    data = None
    if body is not None:
        headers["Content-Type"] = "application/json"
        data = json.dumps(body)
    if key is not None:
        headers["Idempotency-Key"] = key
    if admin:
        headers["Authorization"] = f"Bearer {ADMIN_TOKEN}"
    with client.request(method, path, name=step, data=data, headers=headers, catch_response=True) as r:
        error = r.request_meta.get("exception")
        status = r.status_code or 0
        if status == 0 or (error is not None and not status):
            kind = _exception_kind(error)
            r.failure(kind)
            return Answer(False, 0, kind=kind)
        parsed = None
        text = r.text or ""
        if text:
            try:
                parsed = json.loads(text)
            except ValueError:
                parsed = None
        code = parsed.get("code") if isinstance(parsed, dict) and status >= 400 else None
        if status in expect:
            if text and parsed is None:
                r.failure("decode")
                return Answer(False, status, kind="decode")
            r.success()
            return Answer(True, status, parsed)
        if code in outcomes_ok:
            r.success()
            count(step, code)
            return Answer(True, status, parsed, code)
        family = "5xx" if status >= 500 else "4xx" if status >= 400 else f"{status // 100}xx"
        kind = f"{family} {status} {code or 'no code'}"
        r.failure(kind)
        return Answer(False, status, parsed, code, kind)


def write_outcomes(extra=None):
    os.makedirs(OUT_DIR, exist_ok=True)
    rows = [{"step": s, "outcome": o, "count": n} for (s, o), n in sorted(outcomes.items())]
    doc = {"scenario": SCENARIO, "outcomes": rows}
    if extra:
        doc.update(extra)
    path = os.path.join(OUT_DIR, f"{SCENARIO}_outcomes.json")
    with open(path, "w") as f:
        json.dump(doc, f, indent=2)
    return path


def print_outcomes():
    if not outcomes:
        print("Business outcomes (counted as successes): none")
        return
    print("Business outcomes (counted as successes, not failures):")
    width = max(len(s) for s, _ in outcomes)
    for (step, outcome), n in sorted(outcomes.items()):
        print(f"  {step:<{width}}  {outcome:<20} {n:>8}")


@events.quitting.add_listener
def _report(environment, **_kwargs):
    # Locust leaves its tables out when it writes --json-file; run.sh always does, so print them.
    if environment.runner is not None and getattr(environment.parsed_options, "json_file", None):
        stats.print_stats(environment.runner.stats, current=False)
        stats.print_percentile_stats(environment.runner.stats)
        if environment.runner.stats.errors:
            stats.print_error_report(environment.runner.stats)
        else:
            print("Failures by kind: none\n")
    print_outcomes()
    print(f"outcomes written to {write_outcomes()}")
