'use strict';
// Search as a shopper types it: suggestions under the box while typing, plurals and typos found
// with the matched words marked, a "did you mean" line, facet counts that follow the query, a
// price filter in the URL, a fallback when not every word matches, and an empty state that
// offers categories.

const { test, before, after } = require('node:test');
const assert = require('node:assert/strict');
const { Shop, screenshot, textBecomes } = require('./support.cjs');

let shop;
const PRODUCTS = [
  [1, 'Walnut Desk Lamp', 'Office', 4999],
  [2, 'Brass Desk Lamp', 'Office', 6999],
  [3, 'Oak Floor Lamp', 'Furniture', 12999],
  [4, 'Walnut Bookshelf', 'Furniture', 29999],
  [5, 'Linen Throw Pillow', 'Bed & Bath', 2999],
  [6, 'Walnut Cutting Board', 'Kitchen', 3999],
];

before(async () => {
  shop = await Shop.start('search');
  for (const [id, title, category, price] of PRODUCTS) await shop.addProduct(id, title, category, price, 10);
});
after(() => shop?.stop());

const cards = (page) =>
  page.locator('[data-testid=product-card]').evaluateAll((cs) => cs.map((c) => Number(c.dataset.productId)));

test('as-you-type suggestions, plurals, typos, facets, filters, fallback and empty state', { timeout: 180_000 }, async () => {
  const ctx = await shop.context();
  const page = await ctx.newPage();
  await page.goto('/');
  await page.locator('[data-testid=product-card]').first().waitFor();

  // Suggestions while typing: "desk la" is on its way to "desk lamp".
  await page.click('[data-testid=search]');
  await page.keyboard.type('desk la', { delay: 30 });
  const suggestion = page.locator('[data-testid=suggestions] [data-testid=suggestion-title]');
  await suggestion.first().waitFor();
  const suggested = await suggestion.allTextContents();
  assert.deepEqual(suggested.sort(), ['Brass Desk Lamp', 'Walnut Desk Lamp']);
  assert.equal(await page.locator('[data-testid=suggestions] mark').first().textContent(), 'Desk');
  await screenshot(page, 'search-1-suggestions');
  await page.keyboard.press('Escape');

  // A plural finds the singular, best matches first, with the words marked.
  await page.fill('[data-testid=search]', 'lamps');
  await page.press('[data-testid=search]', 'Enter');
  await page.waitForURL(/[?&]q=lamps/);
  await textBecomes(page, '[data-testid=product-card]', async () => (await cards(page)).length === 3, 'three lamps');
  assert.equal(await page.locator('[data-testid=sort]').inputValue(), 'relevance');
  const marked = await page.locator('[data-testid=product-card] [data-testid=product-title] mark').allTextContents();
  assert.deepEqual(marked, ['Lamp', 'Lamp', 'Lamp']);
  // Facet counts follow the query: two lamps in Office, one in Furniture.
  const facet = (slug) => page.locator(`[data-testid=category-facet][data-slug="${slug}"] .facet__count`);
  assert.equal(await facet('office').textContent(), '2');
  assert.equal(await facet('furniture').textContent(), '1');
  assert.equal(await facet('kitchen').count(), 0);
  await screenshot(page, 'search-2-plural-highlighted');

  // A price range, kept in the URL.
  await page.fill('[data-testid=price-max]', '70');
  await page.click('[data-testid=price-apply]');
  await page.waitForURL((u) => u.searchParams.get('max_price') === '7000');
  await textBecomes(page, '[data-testid=product-card]', async () => JSON.stringify((await cards(page)).sort()) === '[1,2]', 'the two lamps up to €70');

  // A typo: "wallnut" finds walnut, and the page says what it searched for.
  await page.goto('/?q=wallnut');
  await page.locator('[data-testid=did-you-mean]').waitFor();
  assert.equal(await page.locator('[data-testid=did-you-mean-link]').textContent(), 'walnut');
  await textBecomes(page, '[data-testid=product-card]', async () => (await cards(page)).length === 3, 'three walnut products');
  await screenshot(page, 'search-3-did-you-mean');

  // Not every word matches: the first ones do.
  await page.goto('/?q=walnut+unicorn');
  await page.locator('[data-testid=partial-match]').waitFor();
  assert.match(await page.textContent('[data-testid=partial-match]'), /Showing products that match “walnut”/);

  // Nothing matches: categories to go on with instead of a blank page.
  await page.goto('/?q=xylophone');
  await page.locator('[data-testid=search-empty]').waitFor();
  assert.ok((await page.locator('[data-testid=closest-category]').count()) > 0);
  await screenshot(page, 'search-4-empty');
  await ctx.close();
});
