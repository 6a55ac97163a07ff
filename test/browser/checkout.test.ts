/**
 * The shopper's side in a real headless Chromium: the hosted pay page and widget against a real
 * Coinbridge, paying in the built-in sandbox gateway in another tab.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import pg from 'pg';
import type { Browser, Page } from 'playwright-core';
import { launchBrowser } from '../support/browser.ts';
import { freshServerDatabase } from '../support/database.ts';
import { freePort } from '../support/free-port.ts';
import { api, createTestStore, paymentBody, sandboxAction, sandboxToken, startTestApp, TEST_ENCRYPTION_KEY, waitForStatus, type TestApp } from '../support/harness.ts';
import { runCli, spawnCoinbridge, type CoinbridgeProcess } from '../support/process.ts';

/** The element that holds the shopper's view (inside the widget's open shadow root). */
const VIEW = '[data-status]';

async function statusOf(page: Page): Promise<string | null> {
  return page.locator(VIEW).first().getAttribute('data-status');
}

/** The focused element, looking through shadow roots. */
function focusedHook(page: Page): Promise<string | null> {
  return page.evaluate(() => {
    let el: Element | null = document.activeElement;
    while (el?.shadowRoot?.activeElement) el = el.shadowRoot.activeElement;
    return el?.getAttribute('data-cb') ?? el?.getAttribute('value') ?? el?.tagName.toLowerCase() ?? null;
  });
}

async function tabTo(page: Page, hook: string, max = 25): Promise<void> {
  for (let i = 0; i < max; i++) {
    if ((await focusedHook(page)) === hook) return;
    await page.keyboard.press('Tab');
  }
  throw new Error(`could not reach ${hook} with the Tab key (focus is on ${await focusedHook(page)})`);
}

describe('shopper checkout in a real browser', () => {
  let t: TestApp;
  let browser: Browser;

  before(async () => {
    t = await startTestApp({ SEED_DEMO: 'true' });
    browser = await launchBrowser();
  });
  after(async () => {
    try { await browser?.close(); } finally { await t?.close(); }
  });

  it('demo store → pay page → paid in the sandbox in another tab → the first tab shows paid without reload, then returns to the store', async (ctx) => {
    const context = await browser.newContext();
    const page = await context.newPage();
    await page.goto(`${t.url}/demo/`);
    await page.getByRole('button', { name: 'Pay with crypto' }).click();
    await page.waitForURL(/\/pay\/[A-Za-z0-9]+$/);
    await page.locator(`${VIEW}[data-status="created"], ${VIEW}[data-status="pending"]`).first().waitFor();
    await page.evaluate(() => { (window as unknown as { notReloaded: boolean }).notReloaded = true; });
    assert.match(await page.locator('[data-cb="amount"]').first().innerText(), /25/);

    const [gateway] = await Promise.all([context.waitForEvent('page'), page.locator('[data-cb="pay"]').first().click()]);
    await gateway.waitForLoadState();
    await gateway.getByRole('button', { name: 'Pay in full' }).click();
    const clicked = Date.now();
    await page.locator(`${VIEW}[data-status="paid"]`).first().waitFor({ timeout: 15_000 });
    ctx.diagnostic(`paid shown ${Date.now() - clicked} ms after the sandbox click (goal ≤ 1 s; measured, not asserted)`);
    assert.equal(await page.evaluate(() => (window as unknown as { notReloaded?: boolean }).notReloaded), true, 'updated live, no reload');
    assert.ok(await page.locator('[data-cb="back"]').first().isVisible(), 'a way back to the store right away');
    await page.waitForURL(/\/demo\/orders\/demo-/, { timeout: 15_000 });
    await context.close();
  });

  it('underpaid, expired, cancelled and review each show their state and the next step', async () => {
    const store = await createTestStore(t, { settings: { latePaymentPolicy: 'review' } });
    const context = await browser.newContext();
    const cases: Array<{ action: string; status: string; check: (page: Page) => Promise<void> }> = [
      { action: 'underpay', status: 'underpaid', check: async (page) => {
        assert.match(await page.locator('[data-cb="missing"]').first().innerText(), /12[.,]50/);
        assert.match(await page.locator('[data-cb="pay"]').first().innerText(), /rest/i);
      } },
      { action: 'expire', status: 'expired', check: async (page) => {
        assert.ok(await page.locator('[data-cb="back"]').first().isVisible(), 'start again from the store');
      } },
      { action: 'cancel', status: 'cancelled', check: async (page) => {
        assert.match(await page.locator('[data-cb="status"]').first().innerText(), /cancel/i);
      } },
      { action: 'pay_late', status: 'review', check: async (page) => {
        assert.match(await page.locator('[data-cb="status"]').first().innerText(), /review/i);
      } },
    ];
    for (const c of cases) {
      const created = await api(t, 'POST', '/v1/payments', { key: store.apiKey, body: paymentBody(`BR-${c.action}`) });
      assert.equal(created.status, 201);
      await sandboxAction(t, await sandboxToken(t, created.body.id), c.action);
      await waitForStatus(t, created.body.id, c.status);
      const page = await context.newPage();
      await page.goto(created.body.payUrl);
      await page.locator(`${VIEW}[data-status="${c.status}"]`).first().waitFor();
      await c.check(page);
      await page.close();
    }
    await context.close();
  });

  it('the whole flow works with the keyboard alone, and status changes are announced', async () => {
    const store = await createTestStore(t);
    const created = await api(t, 'POST', '/v1/payments', { key: store.apiKey, body: paymentBody('BR-keyboard', { returnUrl: `${t.url}/healthz` }) });
    const context = await browser.newContext();
    const page = await context.newPage();
    await page.goto(created.body.payUrl);
    await page.locator(VIEW).first().waitFor();
    const live = page.locator('[aria-live="polite"]').first();
    assert.equal(await live.count(), 1, 'a polite live region exists');

    await tabTo(page, 'pay');
    const outline = await page.evaluate(() => {
      let el: Element | null = document.activeElement;
      while (el?.shadowRoot?.activeElement) el = el.shadowRoot.activeElement;
      return el ? getComputedStyle(el).outlineStyle : 'none';
    });
    assert.notEqual(outline, 'none', 'the focused control shows where focus is');
    const [gateway] = await Promise.all([context.waitForEvent('page'), page.keyboard.press('Enter')]);
    await gateway.waitForLoadState();
    await tabTo(gateway, 'pay');
    await gateway.keyboard.press('Enter');
    await page.locator(`${VIEW}[data-status="paid"]`).first().waitFor({ timeout: 15_000 });
    assert.match(await live.innerText(), /./, 'the new status is in the live region');
    await page.bringToFront();
    await tabTo(page, 'back');
    await Promise.all([page.waitForURL(/\/healthz$/), page.keyboard.press('Enter')]);
    await context.close();
  });
});

describe('live updates across processes', () => {
  let a: CoinbridgeProcess | undefined;
  let b: CoinbridgeProcess | undefined;
  let db: { url: string; drop(): Promise<void> } | undefined;
  let browser: Browser | undefined;

  after(async () => {
    for (const p of [a, b]) {
      if (p && p.child.exitCode === null) { p.child.kill('SIGTERM'); await p.exited; }
    }
    try { await browser?.close(); } finally { await db?.drop(); }
  });

  it('a page served by process A updates when the IPN lands on process B', async () => {
    db = await freshServerDatabase();
    const [portA, portB] = [await freePort(), await freePort()];
    const env = {
      NODE_ENV: 'test', HOST: '127.0.0.1', DATABASE_URL: db.url, ENCRYPTION_KEY: TEST_ENCRYPTION_KEY, PUBLIC_URL: `http://127.0.0.1:${portA}`,
      SEED_DEMO: 'false', LOG_LEVEL: 'warn', JOB_POLL_MS: '200', ALLOW_PRIVATE_URLS: 'true',
    };
    const store = await runCli(['create-store', '--name', 'Two processes'], env);
    // A only serves HTTP; B also runs the jobs, so the sandbox's IPN is posted to B, and B verifies it.
    a = await spawnCoinbridge({ ...env, COINBRIDGE_ROLE: 'web' }, portA);
    b = await spawnCoinbridge(env, portB);
    const created = await api({ url: a.url }, 'POST', '/v1/payments', { key: store.apiKey, body: paymentBody('BR-two') });
    assert.equal(created.status, 201, JSON.stringify(created.body));
    browser = await launchBrowser();
    const page = await browser.newPage();
    await page.goto(`${a.url}/pay/${created.body.ref}`);
    await page.locator(`${VIEW}[data-status="created"]`).first().waitFor();
    const pool = new pg.Pool({ connectionString: db.url, max: 1 });
    const token = (await pool.query('SELECT gateway_payment_id FROM payments WHERE id = $1', [created.body.id])).rows[0].gateway_payment_id as string;
    await pool.end();
    const res = await fetch(`${b.url}/sandbox/paymento/gateway/${token}/pay`, { method: 'POST', headers: { accept: 'application/json' } });
    assert.equal(res.status, 200);
    await page.locator(`${VIEW}[data-status="paid"]`).first().waitFor({ timeout: 20_000 });
    assert.equal(await statusOf(page), 'paid');
  });
});
