'use strict';
// Two shoppers (two browser contexts, two carts) race for the last unit: exactly one order is
// accepted, the other shopper sees "Sold out".

const { test, before, after } = require('node:test');
const assert = require('node:assert/strict');
const { Shop, screenshot, connected, count, textBecomes, eventually } = require('./support.cjs');

let shop;
const PRODUCT = { id: 5001, title: 'Last teapot', price: 3200 };

before(async () => {
  shop = await Shop.start('last-unit');
  await shop.addProduct(PRODUCT.id, PRODUCT.title, 'Kitchen', PRODUCT.price, 1);
});
after(() => shop?.stop());

async function shopperWithCart() {
  const ctx = await shop.context();
  const page = await ctx.newPage();
  await page.goto(`/product/${PRODUCT.id}`);
  await textBecomes(page, '[data-testid=stock-level]', (s) => s === 'Only 1 left', 'stock level "Only 1 left"');
  await page.fill('[data-testid=quantity]', '1');
  await page.click('[data-testid=add-to-cart]');
  await textBecomes(page, '[data-testid=cart-badge]', (s) => count(s) === 1, 'cart badge 1');
  await page.goto('/cart');
  await page.locator(`[data-testid=cart-line][data-product-id="${PRODUCT.id}"]`).waitFor();
  await connected(page);
  return { ctx, page };
}

async function outcome(page) {
  return eventually('an order confirmation or "Sold out"', async () => {
    if (/\/orders\/[^/]+$/.test(new URL(page.url()).pathname) && (await page.locator('[data-testid=order-confirmation]').count())) return 'ordered';
    if (await page.getByText(/sold out/i).count()) return 'sold out';
    return false;
  });
}

test('two shoppers race for the last unit: one order, one "Sold out"', { timeout: 180_000 }, async () => {
  const one = await shopperWithCart();
  const two = await shopperWithCart();
  // Both click at once. A button the live update has already disabled is simply not pressed.
  await Promise.all([one, two].map(({ page }) => page.click('[data-testid=place-order]', { force: true, timeout: 5_000 }).catch(() => {})));
  const results = await Promise.all([outcome(one.page), outcome(two.page)]);
  await screenshot(one.page, `last-unit-1-shopper-one-${results[0].replace(' ', '-')}`);
  await screenshot(two.page, `last-unit-2-shopper-two-${results[1].replace(' ', '-')}`);
  assert.deepEqual([...results].sort(), ['ordered', 'sold out'], `outcomes: ${results}`);

  // The backend agrees: one order across both carts.
  let orders = 0;
  for (const { ctx } of [one, two]) {
    const r = await ctx.request.get('/api/orders');
    assert.equal(r.status(), 200);
    const body = await r.json();
    orders += (body.orders ?? []).length;
  }
  assert.equal(orders, 1);
  await one.ctx.close();
  await two.ctx.close();
});
