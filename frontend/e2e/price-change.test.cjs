'use strict';
// What the shopper saw is what they pay: the operator reprices a product while the cart page is
// open, and the live frame that would show the new price is held, so the shopper clicks "Place
// order" on the old price. The checkout fold refuses it (409 price_changed), the page explains it
// with the old and the new price and shows the new total, and the second order is placed at the
// new price. Without the hold the live frame would update the page first; the race between frame
// and click is what the fold closes.

const { test, before, after } = require('node:test');
const assert = require('node:assert/strict');
const { Shop, screenshot, minor, eventually, holdableLiveFrames, addOneAndOpenCart, textBecomes } = require('./support.cjs');

let shop;
const PRODUCT = { id: 6001, title: 'Brass floor lamp', price: 10399, repriced: 99999900 };

before(async () => {
  shop = await Shop.start('price-change');
  await shop.addProduct(PRODUCT.id, PRODUCT.title, 'Home & Garden', PRODUCT.price, 5);
});
after(() => shop?.stop());

test('a price changed after the cart was shown is refused, explained, and ordered again at the new price', { timeout: 180_000 }, async () => {
  const ctx = await shop.context();
  const page = await ctx.newPage();
  const live = await holdableLiveFrames(page);
  const answers = [];
  page.on('response', (r) => {
    if (r.url().endsWith('/api/orders') && r.request().method() === 'POST') answers.push(r.status());
  });
  await page.goto(`/product/${PRODUCT.id}`);
  await page.locator(`[data-testid=product-detail][data-product-id="${PRODUCT.id}"]`).waitFor();
  await addOneAndOpenCart(page, PRODUCT.id);
  await textBecomes(page, '[data-testid=cart-total]', (s) => minor(s) === PRODUCT.price, 'the total at the first price');

  // The operator reprices; the shop's own cart view has the new price before the click.
  live.hold();
  await shop.setPrice(PRODUCT.id, PRODUCT.repriced);
  await eventually('checkout prices the cart anew', async () => {
    const cart = await (await ctx.request.get('/api/cart')).json();
    return Number(cart.lines?.[0]?.unitPrice?.minor) === PRODUCT.repriced;
  });
  assert.equal(minor(await page.locator('[data-testid=cart-total]').innerText()), PRODUCT.price, 'the page still shows the old price');
  await screenshot(page, 'price-change-1-old-price-on-screen');

  await page.click('[data-testid=place-order]', { timeout: 5_000 });
  await eventually('the first order answered', async () => answers.length === 1);
  assert.deepEqual(answers, [409]);
  const notice = page.locator('[data-testid=notice]');
  await notice.waitFor();
  const text = await notice.innerText();
  assert.match(text, /^Prices changed since you saw your cart: “Brass floor lamp” €103\.99 → €999,999\.00\. We did not place the order\./, text);
  await textBecomes(page, '[data-testid=cart-total]', (s) => minor(s) === PRODUCT.repriced, 'the new total next to the explanation');
  live.release();
  await screenshot(page, 'price-change-2-refused-and-explained');

  await page.click('[data-testid=place-order]', { timeout: 5_000 });
  await page.locator('[data-testid=order-confirmation]').waitFor();
  assert.deepEqual(answers, [409, 201]);
  await screenshot(page, 'price-change-3-ordered-at-the-new-price');
  const orders = (await (await ctx.request.get('/api/orders')).json()).orders;
  assert.equal(orders.length, 1);
  assert.equal(Number(orders[0].lines[0].unitPrice.minor), PRODUCT.repriced, 'the order carries the new price');
  await ctx.close();
});
