'use strict';
// A shopper's whole journey: search, sort, page, open a product, add two, change the quantity in
// the cart, place the order, see the confirmation and find it in the order history.

const { test, before, after } = require('node:test');
const assert = require('node:assert/strict');
const { Shop, screenshot, minor, count, valueOf, textBecomes } = require('./support.cjs');

let shop;
// 30 lamps with distinct prices (so the price order is known), and other things that a search
// for "lamp" must not find.
const LAMPS = Array.from({ length: 30 }, (_, i) => ({ id: 1001 + i, title: `Lamp ${String(i + 1).padStart(2, '0')}`, price: 1000 + ((i * 37) % 30) * 150 }));
const OTHERS = Array.from({ length: 8 }, (_, i) => ({ id: 2001 + i, title: `Oak chair ${i + 1}`, price: 5000 + i * 100 }));

before(async () => {
  shop = await Shop.start('shopper');
  for (const p of LAMPS) await shop.addProduct(p.id, p.title, 'Home & Garden', p.price, 50);
  for (const p of OTHERS) await shop.addProduct(p.id, p.title, 'Furniture', p.price, 50);
});
after(() => shop?.stop());

async function cardIds(page) {
  return page.locator('[data-testid=product-card]').evaluateAll((cards) => cards.map((c) => Number(c.dataset.productId)));
}

test('search, sort, page, product, cart, order, history', { timeout: 240_000 }, async () => {
  const ctx = await shop.context();
  const page = await ctx.newPage();
  const byPriceDesc = [...LAMPS].sort((a, b) => b.price - a.price);

  await page.goto('/');
  await page.locator('[data-testid=product-card]').first().waitFor();
  await screenshot(page, 'shopper-1-catalog');

  // Search.
  await page.fill('[data-testid=search]', 'lamp');
  await page.press('[data-testid=search]', 'Enter');
  await page.waitForURL(/[?&]q=lamp/);
  await page.selectOption('[data-testid=page-size]', '12');
  await page.waitForURL(/[?&]page_size=12/);
  await textBecomes(page, '[data-testid=page-info]', (t) => /Page 1 of 3/.test(t), 'page 1 of 3 for 30 lamps, 12 a page');
  const titles = await page.locator('[data-testid=product-card] [data-testid=product-title]').allTextContents();
  assert.equal(titles.length, 12);
  for (const t of titles) assert.match(t, /lamp/i);

  // Sort by price, highest first.
  await page.selectOption('[data-testid=sort]', 'price-desc');
  await page.waitForURL((u) => u.searchParams.get('sort') === 'price' && u.searchParams.get('order') === 'desc');
  const want1 = byPriceDesc.slice(0, 12).map((p) => p.id);
  await textBecomes(page, '[data-testid=product-card]', async () => JSON.stringify(await cardIds(page)) === JSON.stringify(want1), 'page 1 sorted by price, highest first');
  const firstPrice = minor(await page.locator('[data-testid=product-card] [data-testid=product-price]').first().textContent());
  assert.equal(firstPrice, byPriceDesc[0].price);
  await screenshot(page, 'shopper-2-search-sorted');

  // Next page.
  await page.click('[data-testid=next-page]');
  await page.waitForURL((u) => u.searchParams.get('page') === '2');
  await textBecomes(page, '[data-testid=page-info]', (t) => /Page 2 of 3/.test(t), 'page 2 of 3');
  const want2 = byPriceDesc.slice(12, 24).map((p) => p.id);
  await textBecomes(page, '[data-testid=product-card]', async () => JSON.stringify(await cardIds(page)) === JSON.stringify(want2), 'page 2 sorted by price');
  await screenshot(page, 'shopper-3-page-2');

  // Open the first product of page 2.
  const product = byPriceDesc[12];
  await page.locator(`[data-testid=product-card][data-product-id="${product.id}"] [data-testid=product-title]`).click();
  await page.waitForURL(new RegExp(`/product/${product.id}$`));
  const detail = page.locator(`[data-testid=product-detail][data-product-id="${product.id}"]`);
  await detail.waitFor();
  assert.equal((await page.textContent('[data-testid=detail-title]')).trim(), product.title);
  assert.equal(minor(await page.textContent('[data-testid=detail-price]')), product.price);
  await textBecomes(page, '[data-testid=stock-level]', (t) => t === 'In stock', 'stock level "In stock"');

  // Add two.
  await page.fill('[data-testid=quantity]', '2');
  await page.click('[data-testid=add-to-cart]');
  await textBecomes(page, '[data-testid=cart-badge]', (t) => count(t) === 2, 'cart badge 2');
  await screenshot(page, 'shopper-4-product-added');

  // The cart: 2, then 3.
  await page.click('[data-testid=cart-badge]');
  await page.waitForURL(/\/cart$/, { timeout: 5_000 }).catch(() => page.goto('/cart'));
  const line = page.locator(`[data-testid=cart-line][data-product-id="${product.id}"]`);
  await line.waitFor();
  assert.equal(await valueOf(line.locator('[data-testid=line-quantity]')), '2');
  assert.equal(minor(await line.locator('[data-testid=line-total]').textContent()), 2 * product.price);
  await line.locator('[data-testid=increment]').click();
  await textBecomes(page, `[data-testid=cart-line][data-product-id="${product.id}"] [data-testid=line-quantity]`, (t) => t === '3', 'line quantity 3');
  await textBecomes(page, `[data-testid=cart-line][data-product-id="${product.id}"] [data-testid=line-total]`, (t) => minor(t) === 3 * product.price, 'line total for 3');
  await textBecomes(page, '[data-testid=cart-total]', (t) => minor(t) === 3 * product.price, 'cart total for 3');
  await textBecomes(page, '[data-testid=cart-badge]', (t) => count(t) === 3, 'cart badge 3');
  await screenshot(page, 'shopper-5-cart');

  // Order.
  await page.click('[data-testid=place-order]');
  await page.waitForURL(/\/orders\/[^/]+$/);
  const confirmation = page.locator('[data-testid=order-confirmation]');
  await confirmation.waitFor();
  const orderId = await confirmation.getAttribute('data-order-id');
  assert.ok(orderId, 'the confirmation names the order');
  assert.ok(page.url().endsWith(`/orders/${orderId}`));
  await screenshot(page, 'shopper-6-confirmation');

  // Order history.
  await page.goto('/orders');
  await page.locator(`[data-testid=order-row][data-order-id="${orderId}"]`).waitFor();
  assert.equal(await page.locator('[data-testid=order-row]').count(), 1);
  await screenshot(page, 'shopper-7-history');
  await ctx.close();
});
