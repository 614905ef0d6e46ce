"""`make load` (SCENARIO=shop): shoppers and operators on the shop's HTTP API, as the browser app
and the admin API are used.

Shopper journeys, weighted like a shop's traffic: mostly browsing catalog pages (sort, page,
category), then search and product pages, and fewer carts and orders. Every shopper keeps its
own cart cookie (one Locust user = one browser). The operator delivers stock and changes prices
through the admin API at LOAD_OPERATOR_RATE operations per second.

Settings (environment): LOAD_THINK_MIN / LOAD_THINK_MAX seconds between a shopper's journeys
(0.1 / 0.5), LOAD_OPERATORS (1), LOAD_OPERATOR_RATE (0.5), ADMIN_TOKEN (dev-admin-token).
"""

import os
import random

from locust import FastHttpUser, between, constant_throughput, task

from common import call, new_key

THINK = (float(os.environ.get("LOAD_THINK_MIN", "0.1")), float(os.environ.get("LOAD_THINK_MAX", "0.5")))
OPERATORS = int(os.environ.get("LOAD_OPERATORS", "1"))
OPERATOR_RATE = float(os.environ.get("LOAD_OPERATOR_RATE", "0.5"))

SORTS = [("name", "asc"), ("price", "asc"), ("price", "desc"), ("id", "desc")]
PAGE_SIZES = [24, 24, 24, 48]
# Words to search for before the shopper has seen any titles.
FIRST_WORDS = ["lamp", "oak", "mug", "steel", "garden", "walnut", "bowl", "linen"]
ORDER_OUTCOMES = ("out_of_stock", "cart_changed", "cart_empty", "product_unavailable", "price_changed",
                  "title_changed")


def items_of(answer):
    if answer.ok and isinstance(answer.body, dict):
        return answer.body.get("items", [])
    return []


class Shopper(FastHttpUser):
    weight = 10
    wait_time = between(*THINK)
    network_timeout = 10.0
    connection_timeout = 5.0

    def on_start(self):
        self.categories = []
        self.product_ids = []
        self.words = list(FIRST_WORDS)
        self.cart_version = 0
        # The lines of the cart as last shown: an order confirms them.
        self.cart_lines = []
        # The app's first requests: the cart (which sets the cart cookie) and the categories.
        self.view_cart("cart: view")
        a = call(self.client, "GET", "/api/categories", "catalog: categories")
        if a.ok and isinstance(a.body, dict):
            self.categories = [c["slug"] for c in a.body.get("categories", []) if c.get("slug")]
        self.remember(items_of(call(self.client, "GET", "/api/products?page_size=24", "catalog: first page")))

    def remember(self, items):
        for item in items:
            pid = item.get("id")
            if pid and pid not in self.product_ids:
                self.product_ids.append(pid)
            for w in item.get("title", "").lower().split():
                if len(w) > 3 and w.isalpha() and w not in self.words:
                    self.words.append(w)
        del self.product_ids[:-200]
        del self.words[:-100]

    def some_product(self):
        return random.choice(self.product_ids) if self.product_ids else None

    def view_cart(self, step):
        a = call(self.client, "GET", "/api/cart", step)
        if a.ok and isinstance(a.body, dict):
            self.cart_version = int(a.body.get("version", "0"))
            self.cart_lines = a.body.get("lines", [])
        return a

    def catalog_query(self):
        sort, order = random.choice(SORTS)
        q = f"page={random.randint(1, 5)}&page_size={random.choice(PAGE_SIZES)}&sort={sort}&order={order}"
        return q

    @task(30)
    def browse_catalog(self):
        self.remember(items_of(call(self.client, "GET", f"/api/products?{self.catalog_query()}", "catalog: page")))

    @task(15)
    def browse_category(self):
        if not self.categories:
            return self.browse_catalog()
        q = f"{self.catalog_query()}&category={random.choice(self.categories)}"
        self.remember(items_of(call(self.client, "GET", f"/api/products?{q}", "catalog: category page")))

    @task(12)
    def search(self):
        q = f"q={random.choice(self.words)}&page_size=24"
        if random.random() < 0.3:
            q += "&sort=price&order=asc"
        self.remember(items_of(call(self.client, "GET", f"/api/products?{q}", "search")))

    @task(20)
    def open_product(self):
        pid = self.some_product()
        if pid:
            call(self.client, "GET", f"/api/products/{pid}", "product: open")

    @task(10)
    def add_to_cart(self):
        pid = self.some_product()
        if not pid:
            return
        call(self.client, "GET", f"/api/products/{pid}", "product: open")
        self.set_line(pid, random.randint(1, 2), "cart: add line")

    @task(5)
    def change_quantities(self):
        a = self.view_cart("cart: view")
        lines = a.body.get("lines", []) if a.ok and isinstance(a.body, dict) else []
        if not lines:
            return
        line = random.choice(lines)
        quantity = 0 if random.random() < 0.2 else random.randint(1, 3)
        self.set_line(line["productId"], quantity, "cart: change quantity")

    @task(6)
    def checkout(self):
        """Adds a product if the cart is empty, reviews the cart and orders the version seen."""
        a = self.view_cart("cart: view")
        if a.ok and isinstance(a.body, dict) and not a.body.get("lines"):
            pid = self.some_product()
            if not pid or not self.set_line(pid, 1, "cart: add line").ok:
                return
        key = new_key()
        body = {"cartVersion": str(self.cart_version), "lines": self.cart_lines}
        answer = call(self.client, "POST", "/api/orders", "order: place", body=body, key=key,
                      expect=(201,), outcomes_ok=ORDER_OUTCOMES)
        if answer.network_error or answer.status == 503:
            # The same key again: the order is placed at most once whatever happened to the first.
            answer = call(self.client, "POST", "/api/orders", "order: place (retry)", body=body, key=key,
                          expect=(201,), outcomes_ok=ORDER_OUTCOMES)
        if answer.code == "out_of_stock":
            # As a shopper does on "sold out": take the line out and shop on.
            sold_out = (answer.body.get("rejection") or {}).get("productId")
            if sold_out:
                self.set_line(sold_out, 0, "cart: remove sold-out line")
        elif answer.code in ("price_changed", "title_changed", "cart_changed"):
            # As a shopper does: look at the cart again (the next order confirms what it shows).
            self.view_cart("cart: review after a change")
        elif answer.ok and answer.status == 201:
            self.cart_version += 1
            self.cart_lines = []
            order_id = answer.body.get("id") if isinstance(answer.body, dict) else None
            if order_id:
                call(self.client, "GET", f"/api/orders/{order_id}", "order: confirmation")

    @task(3)
    def order_history(self):
        call(self.client, "GET", "/api/orders", "order: history")

    def set_line(self, pid, quantity, step):
        a = call(self.client, "PUT", f"/api/cart/lines/{pid}", step, body={"quantity": quantity}, key=new_key())
        if a.ok and isinstance(a.body, dict):
            self.cart_version = int(a.body.get("version", "0"))
            self.cart_lines = a.body.get("lines", [])
        return a


class Operator(FastHttpUser):
    """The shop's staff: stock deliveries and price changes, at a steady rate."""

    fixed_count = OPERATORS
    wait_time = constant_throughput(OPERATOR_RATE)
    network_timeout = 10.0
    connection_timeout = 5.0

    def on_start(self):
        self.product_ids = []
        for page in (1, 2, 3):
            a = call(self.client, "GET", f"/api/products?page={page}&page_size=100&sort=id", "operator: list products")
            self.product_ids += [i["id"] for i in items_of(a) if i.get("id")]

    @task(3)
    def deliver_stock(self):
        if self.product_ids:
            body = {"productId": random.choice(self.product_ids), "quantity": random.randint(5, 50)}
            call(self.client, "POST", "/api/admin/stock", "operator: stock delivery", body=body, key=new_key(), admin=True)

    @task(1)
    def change_price(self):
        if self.product_ids:
            pid = random.choice(self.product_ids)
            body = {"priceMinor": random.randrange(199, 19999, 100)}
            call(self.client, "PUT", f"/api/admin/products/{pid}/price", "operator: price change", body=body,
                 key=new_key(), admin=True)
