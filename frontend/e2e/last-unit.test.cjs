'use strict';
// Two shoppers (two browser contexts, two carts) race for the last unit: exactly one order is
// accepted, the other is refused by the checkout fold (409) and the app explains it. The live
// frames to both pages are held while they click, so neither button is disabled by the winner's
// stock update and both orders reach the server: the refusal must come from the 409 path.

const { test, before, after } = require('node:test');
const assert = require('node:assert/strict');
const { Shop, screenshot, textBecomes, eventually, holdableLiveFrames, addOneAndOpenCart } = require('./support.cjs');

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
  const live = await holdableLiveFrames(page);
  await page.goto(`/product/${PRODUCT.id}`);
  await textBecomes(page, '[data-testid=stock-level]', (s) => s === 'Only 1 left', 'stock level "Only 1 left"');
  await addOneAndOpenCart(page, PRODUCT.id);
  return { ctx, page, live };
}

// The confirmation page, or the notice that only a refused order puts on the cart page.
async function outcome(page) {
  return eventually('an order confirmation or the refusal notice', async () => {
    if (/\/orders\/[^/]+$/.test(new URL(page.url()).pathname) && (await page.locator('[data-testid=order-confirmation]').count())) return 'ordered';
    const notice = page.locator('[data-testid=notice]');
    if (await notice.count()) {
      const text = await notice.innerText();
      return /^Sold out: .*Last teapot.* is no longer in stock/.test(text) ? 'refused' : `notice: ${text}`;
    }
    return false;
  });
}

test('two shoppers race for the last unit: one order, one refused with "Sold out"', { timeout: 180_000 }, async () => {
  const one = await shopperWithCart();
  const two = await shopperWithCart();
  const answers = [];
  for (const { page } of [one, two]) {
    page.on('response', (r) => {
      if (r.url().endsWith('/api/orders') && r.request().method() === 'POST') answers.push(r.status());
    });
  }
  // Both click at once, each button still enabled: no live frame reaches either page meanwhile.
  for (const { live } of [one, two]) live.hold();
  await Promise.all([one, two].map(({ page }) => page.click('[data-testid=place-order]', { timeout: 5_000 })));
  await eventually('both orders answered', async () => answers.length === 2);
  for (const { live } of [one, two]) live.release();
  assert.deepEqual([...answers].sort(), [201, 409], `order answers: ${answers}`);
  const results = await Promise.all([outcome(one.page), outcome(two.page)]);
  await screenshot(one.page, `last-unit-1-shopper-one-${results[0].replace(/\W+/g, '-')}`);
  await screenshot(two.page, `last-unit-2-shopper-two-${results[1].replace(/\W+/g, '-')}`);
  assert.deepEqual([...results].sort(), ['ordered', 'refused'], `outcomes: ${results}`);

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
