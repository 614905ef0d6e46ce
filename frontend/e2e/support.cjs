'use strict';
// What the browser tests share: the real local broker (tansu) and the real `shop` binary as child
// processes, products seeded through the admin HTTP API, and headless Debian Chromium driven by
// playwright-core. Every process started here is stopped by `Shop.stop()`, and killed when the
// test process exits whatever happened.

const { spawn } = require('node:child_process');
const fs = require('node:fs');
const net = require('node:net');
const os = require('node:os');
const path = require('node:path');
const readline = require('node:readline');

const ROOT = path.resolve(__dirname, '../..');
const TOOLS = process.env.TOOLS || path.join(os.homedir(), '.cache/kafka-shop/tools');
const TANSU_BIN = process.env.TANSU_BIN || path.join(TOOLS, 'bin/tansu');
const BROKER_SCRIPT = path.join(ROOT, 'backend/scripts/broker.sh');
const SHOP_BIN = process.env.SHOP_BIN || path.join(ROOT, 'target/debug/shop');
const STATIC_DIR = path.resolve(ROOT, process.env.STATIC_DIR || 'frontend/dist');
const CHROMIUM = process.env.CHROMIUM || '/usr/bin/chromium';
const SCREENSHOTS = path.join(ROOT, 'target/browser-screenshots');
const LOGS = path.join(ROOT, 'target/browser-logs');
const ADMIN_TOKEN = 'e2e-admin-token';

/** Generous: the machine is small and shared; nothing here asserts on time. */
const WAIT_MS = 20_000;

function loadPlaywright() {
  try {
    return require('playwright-core');
  } catch {
    return require(path.join(TOOLS, 'node/node_modules/playwright-core'));
  }
}

const children = new Set();
process.on('exit', () => {
  for (const c of children) {
    try {
      c.kill('SIGKILL');
    } catch {}
  }
});

function sleep(ms) {
  return new Promise((r) => setTimeout(r, ms));
}

/** Polls `check` until it returns something truthy, or throws after `limit` ms naming `what`. */
async function eventually(what, check, limit = WAIT_MS) {
  const deadline = Date.now() + limit;
  for (;;) {
    let last;
    try {
      const v = await check();
      if (v) return v;
    } catch (e) {
      last = e;
    }
    if (Date.now() > deadline) {
      throw new Error(`timed out after ${limit} ms waiting for: ${what}${last ? ` (last error: ${last.message})` : ''}`);
    }
    await sleep(50);
  }
}

function freePort() {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.unref();
    srv.on('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address();
      srv.close(() => resolve(port));
    });
  });
}

function portOpen(port) {
  return new Promise((resolve) => {
    const s = net.connect({ port, host: '127.0.0.1' });
    s.once('connect', () => {
      s.destroy();
      resolve(true);
    });
    s.once('error', () => resolve(false));
  });
}

function exited(child, ms) {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve(true);
  return new Promise((resolve) => {
    const t = setTimeout(() => resolve(false), ms);
    child.once('exit', () => {
      clearTimeout(t);
      resolve(true);
    });
  });
}

/** SIGTERM, then SIGKILL if the process has not exited after `graceMs`. */
async function stopChild(child, graceMs = 10_000) {
  if (!child) return;
  child.kill('SIGTERM');
  if (!(await exited(child, graceMs))) {
    child.kill('SIGKILL');
    await exited(child, 5_000);
  }
  children.delete(child);
}

function logFile(name) {
  fs.mkdirSync(LOGS, { recursive: true });
  return fs.openSync(path.join(LOGS, name), 'a');
}

/** The real Kafka-protocol broker with SQLite storage in a fresh temp dir. */
class Broker {
  static async start(tag) {
    if (!fs.existsSync(TANSU_BIN)) {
      throw new Error(`the local broker is not installed at ${TANSU_BIN}: run \`make test\` or \`make broker-tool\`, or set TANSU_BIN`);
    }
    const b = new Broker();
    b.port = await freePort();
    b.dir = fs.mkdtempSync(path.join(os.tmpdir(), 'shop-e2e-'));
    const log = logFile(`${tag}-tansu.log`);
    // backend/scripts/broker.sh holds the broker's flags; it execs, so the child is the broker.
    b.child = spawn(
      'bash',
      [BROKER_SCRIPT, b.dir, String(b.port), String(b.port), 'shop-e2e'],
      { stdio: ['ignore', log, log], env: { ...process.env, TANSU_BIN } },
    );
    children.add(b.child);
    await eventually('the broker accepting connections', async () => {
      if (b.child.exitCode !== null) throw new Error(`tansu exited with ${b.child.exitCode}`);
      return portOpen(b.port);
    });
    return b;
  }

  get brokers() {
    return `127.0.0.1:${this.port}`;
  }

  async stop() {
    await stopChild(this.child);
    fs.rmSync(this.dir, { recursive: true, force: true });
  }
}

/** The `shop` binary serving the built app. `port` 0 picks a free one (printed on stdout). */
class Backend {
  static async start(brokers, tag, port = 0) {
    for (const [what, p] of [['the shop binary', SHOP_BIN], ['the built app', path.join(STATIC_DIR, 'index.html')]]) {
      if (!fs.existsSync(p)) throw new Error(`${what} is missing at ${p}: run \`make e2e\` (it builds both)`);
    }
    const b = new Backend();
    const log = logFile(`${tag}-shop.log`);
    b.child = spawn(SHOP_BIN, ['serve'], {
      cwd: ROOT,
      env: {
        ...process.env,
        KAFKA_BROKERS: brokers,
        HTTP_ADDR: `127.0.0.1:${port}`,
        ADMIN_TOKEN,
        STATIC_DIR,
        RUST_LOG: process.env.RUST_LOG || 'warn',
      },
      stdio: ['ignore', 'pipe', log],
    });
    children.add(b.child);
    const lines = readline.createInterface({ input: b.child.stdout });
    const first = await Promise.race([
      new Promise((resolve) => lines.once('line', resolve)),
      new Promise((_, reject) => b.child.once('exit', (code) => reject(new Error(`shop exited with ${code}; see target/browser-logs/${tag}-shop.log`)))),
    ]);
    lines.on('line', () => {}); // keep draining stdout
    const m = /http:\/\/(\S+)/.exec(first);
    if (!m) throw new Error(`unexpected first line from shop: ${JSON.stringify(first)}`);
    b.addr = m[1];
    b.base = `http://${b.addr}`;
    b.port = Number(b.addr.split(':').pop());
    await eventually('the backend ready (/readyz 200)', async () => (await fetch(`${b.base}/readyz`)).ok, 60_000);
    return b;
  }

  async stop() {
    await stopChild(this.child);
  }
}

/** A broker, a backend, a browser and the admin API, for one test file. */
class Shop {
  static async start(tag, { port = 0 } = {}) {
    const s = new Shop();
    s.tag = tag;
    s.keys = 0;
    try {
      s.broker = await Broker.start(tag);
      s.backend = await Backend.start(s.broker.brokers, tag, port);
      const { chromium } = loadPlaywright();
      s.browser = await chromium.launch({
        executablePath: CHROMIUM,
        headless: true,
        args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking',
          '--disable-component-update', '--disable-sync'],
      });
    } catch (e) {
      await s.stop();
      throw e;
    }
    return s;
  }

  get base() {
    return this.backend.base;
  }

  /** Stops the backend (SIGTERM; SIGKILL after 10 s). */
  async stopBackend() {
    await this.backend.stop();
  }

  /** Starts the backend again on the same port and broker. */
  async restartBackend() {
    this.backend = await Backend.start(this.broker.brokers, `${this.tag}-restart`, this.backend.port);
  }

  /** A new browser context: its own cookies, so its own cart. */
  async context() {
    const ctx = await this.browser.newContext({ baseURL: this.base, viewport: { width: 1280, height: 900 } });
    ctx.setDefaultTimeout(WAIT_MS);
    const log = fs.createWriteStream(path.join(LOGS, `${this.tag}-browser.log`), { flags: 'a' });
    ctx.on('page', (page) => watchPage(page, log));
    return ctx;
  }

  /** A JSON request to the admin API; throws unless 2xx. */
  async admin(method, apiPath, body) {
    this.keys += 1;
    const r = await fetch(`${this.base}${apiPath}`, {
      method,
      headers: {
        authorization: `Bearer ${ADMIN_TOKEN}`,
        'content-type': 'application/json',
        'idempotency-key': `e2e-${this.tag}-${Date.now()}-${this.keys}`,
      },
      body: JSON.stringify(body),
    });
    const text = await r.text();
    if (!r.ok) throw new Error(`${method} ${apiPath}: ${r.status} ${text}`);
    return text ? JSON.parse(text) : null;
  }

  /** As backend/tests/support/mod.rs `add_product`: the product, then a stock delivery. */
  async addProduct(id, title, category, priceMinor, stock) {
    await this.admin('PUT', `/api/admin/products/${id}`, {
      title,
      description: `A fine ${title}`,
      category,
      price: { minor: priceMinor, currency: 'EUR' },
    });
    if (stock > 0) await this.deliver(id, stock);
  }

  async deliver(id, quantity) {
    await this.admin('POST', '/api/admin/stock', { productId: String(id), quantity });
  }

  async setPrice(id, priceMinor) {
    await this.admin('PUT', `/api/admin/products/${id}/price`, { priceMinor });
  }

  async stop() {
    await this.browser?.close().catch(() => {});
    await this.backend?.stop();
    this.backend = null;
    await this.broker?.stop();
  }
}

/** Per page: the app's /api/ws sockets that are really open (a frame went through). */
const openSockets = new WeakMap();

function watchPage(page, log) {
  const open = new Set();
  openSockets.set(page, open);
  page.on('websocket', (ws) => {
    if (!new URL(ws.url()).pathname.startsWith('/api/ws')) return;
    const mark = () => {
      if (!ws.isClosed()) open.add(ws);
    };
    ws.on('framesent', mark);
    ws.on('framereceived', mark);
    ws.on('close', () => open.delete(ws));
    ws.on('socketerror', (e) => {
      open.delete(ws);
      log.write(`[websocket] ${ws.url()} ${e}\n`);
    });
  });
  page.on('console', (m) => {
    if (m.type() === 'error' || m.type() === 'warning') log.write(`[console.${m.type()}] ${page.url()} ${m.text()}\n`);
  });
  page.on('pageerror', (e) => log.write(`[pageerror] ${page.url()} ${e.message}\n`));
  page.on('requestfailed', (r) => log.write(`[requestfailed] ${r.url()} ${r.failure()?.errorText}\n`));
}

/** A full-page screenshot under target/browser-screenshots/. */
async function screenshot(page, name) {
  fs.mkdirSync(SCREENSHOTS, { recursive: true });
  await page.screenshot({ path: path.join(SCREENSHOTS, `${name}.png`), fullPage: true });
}

/** Money as the page shows it ("€49.00", "49,00 €", "EUR 1,234.50") in minor units. */
function minor(text) {
  const digits = String(text).replace(/[^0-9]/g, '');
  if (!digits) throw new Error(`no amount in ${JSON.stringify(text)}`);
  return Number(digits);
}

/** The number in a text ("3", "Cart (3)"), or NaN. */
function count(text) {
  const m = /\d+/.exec(String(text));
  return m ? Number(m[0]) : NaN;
}

/** The text of an element, or its value when it is a form field. */
async function valueOf(locator) {
  return locator.evaluate((e) => (['INPUT', 'SELECT', 'TEXTAREA'].includes(e.tagName) ? e.value : e.textContent).trim());
}

/**
 * Waits until the app's websocket is really up: live-status says connected, a frame went through
 * an open `/api/ws` socket (so a status that flickers while the handshake fails does not count),
 * and no offline banner shows.
 */
async function connected(page, timeout = WAIT_MS) {
  const open = openSockets.get(page);
  if (!open) throw new Error('connected(): the page was not opened through Shop.context()');
  await eventually('the live connection up (live-status connected, /api/ws open, no offline banner)', async () =>
    open.size > 0
      && (await page.locator('[data-testid=live-status][data-state=connected]').count()) === 1
      && (await page.locator('[data-testid=offline-banner]').count()) === 0, timeout);
}

/** Waits until `selector`'s text (or value) satisfies `predicate`; returns it. */
async function textBecomes(page, selector, predicate, what, timeout = WAIT_MS) {
  const loc = page.locator(selector).first();
  let last;
  try {
    await eventually(what, async () => {
      if ((await loc.count()) === 0) return false;
      last = await valueOf(loc);
      return await predicate(last);
    }, timeout);
  } catch (e) {
    e.message += ` (last text: ${JSON.stringify(last)})`;
    throw e;
  }
  return last;
}

module.exports = { Shop, eventually, freePort, screenshot, minor, count, valueOf, connected, textBecomes, sleep, WAIT_MS };

/**
 * Waits (polling every 20 ms) until `predicate(document)` holds in `page` and returns
 * the page's clock at that moment, so that a caller can measure from an action in another tab.
 * `predicate` runs in the page: it must be self-contained.
 */
async function seenAt(page, predicate, arg, timeout = WAIT_MS) {
  const expr = `(() => { const f = (${predicate.toString()}); return f(document, ${JSON.stringify(arg ?? null)}) ? Date.now() : false; })()`;
  const handle = await page.waitForFunction(expr, undefined, { polling: 20, timeout });
  return handle.jsonValue();
}

module.exports.seenAt = seenAt;

// Routes the page's live socket through the test: frames from the server pass unless held.
async function holdableLiveFrames(page) {
  const live = { holding: false, held: [], sockets: [] };
  await page.routeWebSocket(/\/api\/ws$/, (ws) => {
    const server = ws.connectToServer();
    live.sockets.push(ws);
    server.onMessage((m) => (live.holding ? live.held.push([ws, m]) : ws.send(m)));
  });
  live.hold = () => { live.holding = true; };
  live.release = () => {
    live.holding = false;
    for (const [ws, m] of live.held.splice(0)) ws.send(m);
  };
  return live;
}

module.exports.holdableLiveFrames = holdableLiveFrames;

// Puts one unit of the product on the page into the cart and opens the cart page, live socket
// connected.
async function addOneAndOpenCart(page, productId) {
  await page.fill('[data-testid=quantity]', '1');
  await page.click('[data-testid=add-to-cart]');
  await textBecomes(page, '[data-testid=cart-badge]', (s) => count(s) === 1, 'cart badge 1');
  await page.goto('/cart');
  await page.locator(`[data-testid=cart-line][data-product-id="${productId}"]`).waitFor();
  await connected(page);
}

module.exports.addOneAndOpenCart = addOneAndOpenCart;

/** The admin token every test shop is started with. */
module.exports.ADMIN_TOKEN = ADMIN_TOKEN;

/** Signs in to the admin area of `page` through its form (the token stays in that tab). */
async function signIn(page, path = '/admin') {
  await page.goto(path);
  await page.fill('[data-testid=admin-token]', ADMIN_TOKEN);
  await page.click('[data-testid=admin-sign-in]');
  await page.locator('[data-testid=admin-nav]').waitFor();
}

module.exports.signIn = signIn;

/** Waits until the admin area's event-log connection is up. */
async function adminConnected(page, timeout = WAIT_MS) {
  await page.locator('[data-testid=admin-live-status][data-state=connected]').waitFor({ timeout });
}

module.exports.adminConnected = adminConnected;
