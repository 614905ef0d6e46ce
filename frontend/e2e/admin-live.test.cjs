'use strict';
// An admin's stock delivery and price change (admin HTTP API) show live on an open product page.

const { test, before, after } = require('node:test');
const { Shop, screenshot, connected, minor, textBecomes } = require('./support.cjs');

let shop;
const PRODUCT = { id: 4001, title: 'Linen tablecloth', price: 4900 };

before(async () => {
  shop = await Shop.start('admin-live');
  await shop.addProduct(PRODUCT.id, PRODUCT.title, 'Home & Garden', PRODUCT.price, 3);
});
after(() => shop?.stop());

test('stock and price changes appear live on the product page', { timeout: 180_000 }, async (t) => {
  const ctx = await shop.context();
  const page = await ctx.newPage();
  await page.goto(`/product/${PRODUCT.id}`);
  await page.locator(`[data-testid=product-detail][data-product-id="${PRODUCT.id}"]`).waitFor();
  await connected(page);
  await textBecomes(page, '[data-testid=stock-level]', (s) => s === 'Only 3 left', 'stock level "Only 3 left"');
  await textBecomes(page, '[data-testid=detail-price]', (s) => minor(s) === PRODUCT.price, 'the first price');
  await screenshot(page, 'admin-live-1-before');

  let t0 = Date.now();
  await shop.deliver(PRODUCT.id, 10);
  await textBecomes(page, '[data-testid=stock-level]', (s) => s === 'In stock', 'stock level "In stock" after a delivery of 10');
  const msStock = Date.now() - t0;

  t0 = Date.now();
  await shop.setPrice(PRODUCT.id, 3900);
  await textBecomes(page, '[data-testid=detail-price]', (s) => minor(s) === 3900, 'the new price 39.00');
  const msPrice = Date.now() - t0;
  await screenshot(page, 'admin-live-2-after');

  const report = `admin change to visible on the product page: stock ${msStock} ms, price ${msPrice} ms (not asserted)`;
  t.diagnostic(report);
  await ctx.close();
});
