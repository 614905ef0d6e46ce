'use strict';
// Two tabs of one browser share the cart cookie: a change in one shows in the other without a
// reload, through the websocket. The delay is measured and reported (target: within a second);
// the test waits for the change with a generous timeout and does not assert on time.

const { test, before, after } = require('node:test');
const assert = require('node:assert/strict');
const { Shop, screenshot, connected, seenAt, count, textBecomes } = require('./support.cjs');

let shop;
const PRODUCT = { id: 3001, title: 'Brass wall clock', price: 2500 };

before(async () => {
  shop = await Shop.start('two-tabs');
  await shop.addProduct(PRODUCT.id, PRODUCT.title, 'Home & Garden', PRODUCT.price, 20);
});
after(() => shop?.stop());

test('a cart change in one tab appears live in the other', { timeout: 180_000 }, async (t) => {
  const ctx = await shop.context();
  const a = await ctx.newPage();
  const b = await ctx.newPage();
  await a.goto(`/product/${PRODUCT.id}`);
  await a.locator(`[data-testid=product-detail][data-product-id="${PRODUCT.id}"]`).waitFor();
  // The first page load sets the cart cookie; the second tab then shares it.
  await b.goto('/cart');
  await b.locator('[data-testid=empty-cart]').waitFor();
  await connected(a);
  await connected(b);
  await screenshot(b, 'two-tabs-1-empty-cart');

  // Tab A adds one: tab B's cart shows the line and its badge 1.
  // Playwright waits for two animation frames before a click; a page that is not in front gets
  // them slowly, so the acting tab is brought to the front first (as a shopper's would be).
  await a.bringToFront();
  await a.fill('[data-testid=quantity]', '1');
  let t0 = Date.now();
  await a.click('[data-testid=add-to-cart]');
  const [ownInA, lineInB] = await Promise.all([
    seenAt(a, (d) => /\b1\b/.test(d.querySelector('[data-testid=cart-badge]')?.textContent ?? '')),
    seenAt(b, (d, id) => d.querySelector(`[data-testid=cart-line][data-product-id="${id}"]`), PRODUCT.id),
  ]);
  const msAdd = lineInB - t0;
  const msAddOwn = ownInA - t0;
  await textBecomes(b, '[data-testid=cart-badge]', (s) => count(s) === 1, 'tab B badge 1');
  await screenshot(b, 'two-tabs-2-line-appeared');

  // Tab B increments: tab A's badge shows 2.
  await b.bringToFront();
  t0 = Date.now();
  await b.locator(`[data-testid=cart-line][data-product-id="${PRODUCT.id}"] [data-testid=increment]`).click();
  const badgeInA = await seenAt(a, (d) => /\b2\b/.test(d.querySelector('[data-testid=cart-badge]')?.textContent ?? ''));
  const msIncrement = badgeInA - t0;
  await screenshot(a, 'two-tabs-3-badge-updated');

  // Tab B removes the line: tab A's badge no longer counts it.
  t0 = Date.now();
  await b.locator(`[data-testid=cart-line][data-product-id="${PRODUCT.id}"] [data-testid=remove]`).click();
  const emptyInA = await seenAt(a, (d) => {
    const badge = d.querySelector('[data-testid=cart-badge]');
    return !badge || !/[1-9]/.test(badge.textContent);
  });
  const msRemove = emptyInA - t0;
  await b.locator('[data-testid=empty-cart]').waitFor();

  const report = `live update to the other tab, click to visible: add ${msAdd} ms (in the clicking tab itself: ${msAddOwn} ms), increment ${msIncrement} ms, remove ${msRemove} ms (target: within 1000 ms; not asserted)`;
  t.diagnostic(report);
  assert.ok(msAdd >= 0 && msIncrement >= 0 && msRemove >= 0);
  await ctx.close();
});
