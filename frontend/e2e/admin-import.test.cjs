'use strict';
// CSV imports in the browser: a stock file with one bad row is refused with the row's line and
// reason and writes nothing; the fixed file is written once, with a progress bar, even when its
// first upload's answer is lost and the operator uploads it again (same idempotency key).

const { test, before, after } = require('node:test');
const assert = require('node:assert/strict');
const { Shop, screenshot, textBecomes, signIn, adminConnected } = require('./support.cjs');

let shop;
const IDS = [6001, 6002, 6003];

before(async () => {
  shop = await Shop.start('admin-import');
  for (const id of IDS) await shop.addProduct(id, `Candle ${id}`, 'Home & Garden', 1200, 0);
});
after(() => shop?.stop());

/** The checkout log's applied offset, as /metrics has it. */
async function checkoutApplied() {
  const text = await (await fetch(`${shop.base}/metrics`)).text();
  return Number(/shop_context_applied_offset\{context="checkout"\} (\d+)/.exec(text)[1]);
}

async function available(id) {
  const p = await (await fetch(`${shop.base}/api/products/${id}`)).json();
  return Number(p.availability?.available ?? 0);
}

test('a bad row writes nothing; the good file is written once though uploaded twice', { timeout: 180_000 }, async (t) => {
  const ctx = await shop.context();
  const page = await ctx.newPage();
  await signIn(page, '/admin/imports');
  await adminConnected(page);
  await page.selectOption('[data-testid=import-kind]', 'stock');
  const logBefore = await checkoutApplied();

  const bad = `product_id,quantity\n${IDS[0]},5\n${IDS[1]},0\n${IDS[2]},7\n`;
  await page.setInputFiles('[data-testid=import-file]', { name: 'stock-bad.csv', mimeType: 'text/csv', buffer: Buffer.from(bad) });
  await page.locator('[data-testid=import-chosen]').waitFor();
  await page.click('[data-testid=import-upload]');
  const row = page.locator('[data-testid=import-bad-row]');
  await row.first().waitFor();
  assert.equal(await row.count(), 1);
  assert.equal(await row.first().getAttribute('data-line'), '3');
  assert.match(await row.first().innerText(), /quantity must be between 1 and 1000000, got 0/);
  assert.match(await page.locator('[data-testid=import-refused]').innerText(), /nothing was written/);
  await screenshot(page, 'admin-import-1-bad-row');
  assert.equal(await checkoutApplied(), logBefore, 'nothing reached the log');
  assert.equal(await available(IDS[0]), 0);

  // The fixed file. Its first answer is lost on the way back (the shop got it and runs it).
  const good = `product_id,quantity\n${IDS[0]},5\n${IDS[1]},2\n${IDS[2]},7\n`;
  let lost = 0;
  await page.route('**/api/admin/imports/stock', async (route) => {
    if (lost === 0) {
      lost += 1;
      await route.fetch();
      await route.abort('connectionreset');
    } else {
      await route.continue();
    }
  });
  await page.setInputFiles('[data-testid=import-file]', { name: 'stock.csv', mimeType: 'text/csv', buffer: Buffer.from(good) });
  await page.locator('[data-testid=import-chosen]').filter({ hasText: 'stock.csv' }).waitFor();
  await page.click('[data-testid=import-upload]');
  const failed = await textBecomes(page, '[data-testid=import-failed]', (s) => s.length > 0, 'the lost answer reported');
  assert.match(failed, /Upload it again: the shop writes it once/);
  await screenshot(page, 'admin-import-2-answer-lost');
  await page.click('[data-testid=import-retry]');
  await page.locator('[data-testid=import-progress]').waitFor();
  await textBecomes(page, '[data-testid=import-state]', (s) => s.startsWith('Done: 3 rows'), 'the import done');
  const bar = page.locator('[data-testid=import-progress]');
  assert.equal(await bar.getAttribute('value'), await bar.getAttribute('max'));
  await screenshot(page, 'admin-import-3-done');

  assert.deepEqual([await available(IDS[0]), await available(IDS[1]), await available(IDS[2])], [5, 2, 7], 'each row counted once');
  assert.equal(await checkoutApplied(), logBefore + 3, 'three events written, not six');
  t.diagnostic(`upload attempts that reached the shop: ${lost + 1}`);
  await ctx.close();
});
