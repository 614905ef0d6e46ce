'use strict';
// The backend stops and starts again (same broker, same port) under an open page: the app shows
// the offline banner, then recovers by itself (banner gone, live status connected).

const { test, before, after } = require('node:test');
const { Shop, screenshot, connected, freePort } = require('./support.cjs');

let shop;

before(async () => {
  // A fixed port, so the restarted backend is found at the same address.
  shop = await Shop.start('restart', { port: await freePort() });
  await shop.addProduct(6001, 'Felt slippers', 'Fashion', 1900, 10);
});
after(() => shop?.stop());

test('the app shows the offline banner while the backend is down, then recovers', { timeout: 180_000 }, async (t) => {
  const ctx = await shop.context();
  const page = await ctx.newPage();
  await page.goto('/');
  await page.locator('[data-testid=product-card]').first().waitFor();
  await connected(page);
  await screenshot(page, 'restart-1-connected');

  await shop.stopBackend();
  await page.locator('[data-testid=offline-banner]').waitFor({ state: 'visible' });
  await page.locator('[data-testid=live-status]:is([data-state=offline], [data-state=connecting])').waitFor();
  await screenshot(page, 'restart-2-offline');

  const t0 = Date.now();
  await shop.restartBackend();
  const ready = Date.now();
  // The app retries with a backoff of at most 10 s: allow for one full wait and more.
  await connected(page, 40_000);
  t.diagnostic(`reconnected ${Date.now() - ready} ms after the backend was ready (restart took ${ready - t0} ms)`);
  await page.locator('[data-testid=product-card]').first().waitFor();
  await screenshot(page, 'restart-3-recovered');
  await ctx.close();
});
