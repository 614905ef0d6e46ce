"""`make load SCENARIO=flash-sale`: FLASH_SHOPPERS shoppers race for the units of one product.

Each shopper (one Locust user, one cart cookie) is sent to one of the replicas in FLASH_HOSTS in
turn, opens its cart, puts one unit of FLASH_PRODUCT in it, and waits at the door. When every
shopper is at the door (or FLASH_GATE_SECONDS have passed), the sale opens: all place their
order at once. A network error or a 503 is retried with the same Idempotency-Key (at most
FLASH_ATTEMPTS tries), so a shopper's order is placed at most once. Each shopper records the
answer (accepted with the order id, or rejected with the API's code) and stops; the last one
writes `$LOAD_OUT/flash-sale_answers.json` and ends the run. `shop-audit` then checks the sale
from Kafka and from both replicas.
"""

import itertools
import json
import os
import threading
import time

import gevent
from gevent.event import Event
from locust import FastHttpUser, constant, events, task
from locust.exception import StopUser

from common import OUT_DIR, call, new_key

HOSTS = [h for h in os.environ.get("FLASH_HOSTS", "").split(",") if h]
PRODUCT = os.environ.get("FLASH_PRODUCT", "900001")
SHOPPERS = int(os.environ.get("FLASH_SHOPPERS", "500"))
ATTEMPTS = int(os.environ.get("FLASH_ATTEMPTS", "5"))
GATE_SECONDS = float(os.environ.get("FLASH_GATE_SECONDS", "120"))
ORDER_OUTCOMES = ("out_of_stock", "cart_changed", "cart_empty", "product_unavailable", "price_changed",
                  "title_changed")

_numbers = itertools.count()
_lock = threading.Lock()
_at_door = 0
_door = Event()
answers = []


def _arrive():
    global _at_door
    with _lock:
        _at_door += 1
        if _at_door >= SHOPPERS:
            _door.set()


def _summary():
    accepted = sum(1 for a in answers if a["answer"] == "accepted")
    rejected = {}
    for a in answers:
        if a["answer"] == "rejected":
            rejected[a["reason"]] = rejected.get(a["reason"], 0) + 1
    return {
        "shoppers": SHOPPERS,
        "finished": len(answers),
        "answered": sum(1 for a in answers if a["answer"] in ("accepted", "rejected")),
        "accepted": accepted,
        "rejected": rejected,
        "no_answer": sum(1 for a in answers if a["answer"] == "none"),
        "retried": sum(1 for a in answers if a["attempts"] > 1),
        "by_replica": {h: sum(1 for a in answers if a["replica"] == h) for h in HOSTS},
        "accepted_by_replica": {h: sum(1 for a in answers if a["replica"] == h and a["answer"] == "accepted")
                                for h in HOSTS},
    }


def _write_answers():
    os.makedirs(OUT_DIR, exist_ok=True)
    path = os.path.join(OUT_DIR, "flash-sale_answers.json")
    with open(path, "w") as f:
        json.dump({"summary": _summary(), "answers": answers}, f, indent=1)
    return path


class FlashShopper(FastHttpUser):
    wait_time = constant(0)
    network_timeout = 15.0
    connection_timeout = 5.0

    def __init__(self, environment):
        self.number = next(_numbers)
        if HOSTS:
            self.host = HOSTS[self.number % len(HOSTS)]
        super().__init__(environment)

    def command(self, method, path, step, body, key, expect, outcomes_ok=()):
        """A command retried with the same key after a network error or a 503."""
        for attempt in range(1, ATTEMPTS + 1):
            answer = call(self.client, method, path, step if attempt == 1 else f"{step} (retry)", body=body,
                          key=key, expect=expect, outcomes_ok=outcomes_ok)
            if not (answer.network_error or answer.status == 503) or attempt == ATTEMPTS:
                return answer, attempt
            gevent.sleep(0.2 * attempt)

    @task
    def race(self):
        record = {"shopper": self.number, "replica": self.host, "answer": "none", "reason": None,
                  "order_id": None, "status": None, "attempts": 0}
        try:
            call(self.client, "GET", "/api/cart", "flash: open cart")
            line, _ = self.command("PUT", f"/api/cart/lines/{PRODUCT}", "flash: add to cart", {"quantity": 1},
                                   new_key(), (200,))
            version = line.body.get("version", "0") if line.ok and isinstance(line.body, dict) else None
            # The order confirms the cart as shown: its version and its lines (titles, prices).
            shown = line.body.get("lines", []) if version is not None else []
            _arrive()
            _door.wait(timeout=GATE_SECONDS)
            if version is None:
                record["reason"] = f"add to cart failed: {line.kind or line.code}"
                return
            started = time.monotonic()
            order, attempts = self.command("POST", "/api/orders", "flash: place order",
                                           {"cartVersion": version, "lines": shown}, new_key(), (201,),
                                           ORDER_OUTCOMES)
            record["attempts"] = attempts
            record["status"] = order.status
            record["order_ms"] = round((time.monotonic() - started) * 1000, 1)
            if order.ok and order.status == 201:
                record["answer"] = "accepted"
                record["order_id"] = order.body.get("id")
            elif order.ok:
                record["answer"] = "rejected"
                record["reason"] = order.code
                record["message"] = order.body.get("message") if isinstance(order.body, dict) else None
            else:
                record["reason"] = order.kind
        finally:
            with _lock:
                answers.append(record)
                last = len(answers) >= SHOPPERS
            if last:
                print(f"flash sale: every shopper finished; answers in {_write_answers()}")
                gevent.spawn_later(0.1, self.environment.runner.quit)
        raise StopUser()


@events.quitting.add_listener
def _final(environment, **_kwargs):
    # Also when the run's time limit ended it first: shoppers without an answer are counted.
    path = _write_answers()
    s = _summary()
    print(f"flash sale: {s['finished']} of {SHOPPERS} shoppers finished, {s['answered']} answered "
          f"({s['accepted']} accepted, rejected {s['rejected']}), {s['no_answer']} without answer, "
          f"{s['retried']} retried; accepted per replica {s['accepted_by_replica']}; {path}")
