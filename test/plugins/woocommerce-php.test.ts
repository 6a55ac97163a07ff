/**
 * The WooCommerce plugin (PHP) under Node's runner: `php -l` on every PHP file, the PHPUnit suite
 * (against the WordPress/WooCommerce stand-ins in plugins/woocommerce/tests/stubs), the Blocks
 * script in a sandbox, and tests/bin/process-payment.php against a local HTTP server, which
 * proves the plugin's real request goes out over real HTTP the way the tests say.
 *
 * Needs `php` (7.4 or later) and `phpunit` (9.x) on PATH. On Debian/Ubuntu:
 * `apt-get install php-cli phpunit`. They are not optional: without them this file fails.
 */
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { dirname, join, relative } from 'node:path';
import { describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import vm from 'node:vm';

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '../..');
const PLUGINS = join(ROOT, 'plugins/woocommerce');
const PLUGIN = join(PLUGINS, 'coinbridge-for-woocommerce');
const PROCESS_PAYMENT = join(PLUGINS, 'tests/bin/process-payment.php');
const INSTALL_HINT = 'Install PHP and PHPUnit: on Debian/Ubuntu run `sudo apt-get install php-cli phpunit` (php >= 7.4, phpunit 9.x).';

/** Without the live URL, the PHP stand-in never makes a real request. */
const PHP_ENV = { ...process.env, COINBRIDGE_LIVE_URL: '' };

function requireTool(command: string): void {
  const probe = spawnSync(command, ['--version'], { encoding: 'utf8', env: PHP_ENV });
  assert.ok(
    !probe.error && probe.status === 0,
    `\`${command}\` is not available (${probe.error ? probe.error.message : `exit ${probe.status}: ${probe.stderr}`}). ${INSTALL_HINT}`,
  );
}

function phpFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) return phpFiles(path);
    return entry.isFile() && entry.name.endsWith('.php') ? [path] : [];
  }).sort();
}

interface RunResult { code: number | null; stdout: string; stderr: string }

/** Runs a command without blocking the event loop (the fake Coinbridge lives in this process). */
function run(command: string, args: string[], env: NodeJS.ProcessEnv = PHP_ENV): Promise<RunResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, { cwd: ROOT, env, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (chunk: string) => { stdout += chunk; });
    child.stderr.setEncoding('utf8').on('data', (chunk: string) => { stderr += chunk; });
    const timer = setTimeout(() => child.kill('SIGKILL'), 60_000);
    child.on('error', (err) => { clearTimeout(timer); reject(err); });
    child.on('close', (code) => { clearTimeout(timer); resolve({ code, stdout, stderr }); });
  });
}

describe('WooCommerce plugin: PHP syntax', () => {
  const files = phpFiles(PLUGINS);

  it('has PHP files to check', () => {
    requireTool('php');
    assert.ok(files.length >= 10, `only ${files.length} PHP files under ${PLUGINS}`);
  });

  for (const file of files) {
    it(`php -l ${relative(ROOT, file)}`, () => {
      requireTool('php');
      const lint = spawnSync('php', ['-l', file], { encoding: 'utf8', env: PHP_ENV });
      assert.equal(lint.status, 0, `${lint.stdout}${lint.stderr}`);
    });
  }
});

describe('WooCommerce plugin: PHPUnit', () => {
  it('passes phpunit -c plugins/woocommerce/phpunit.xml.dist', async () => {
    requireTool('php');
    requireTool('phpunit');
    const result = await run('phpunit', ['-c', 'plugins/woocommerce/phpunit.xml.dist']);
    assert.equal(result.code, 0, `phpunit failed (exit ${result.code}):\n${result.stdout}\n${result.stderr}`);
    assert.match(result.stdout, /^OK \(\d+ tests?, \d+ assertions?\)/m, result.stdout);
  });
});

describe('WooCommerce plugin: Blocks script', () => {
  interface Element { type: unknown; props: Record<string, unknown> | null; children: unknown[] }
  interface Registration {
    name: string; ariaLabel: string; label: Element; content: Element; edit: Element;
    canMakePayment: () => boolean; supports: { features: string[] };
  }

  /** Objects made inside the sandbox have its prototypes; compare them as plain data. */
  const plain = (value: unknown): unknown => JSON.parse(JSON.stringify(value));

  function load(data: Record<string, unknown>): Registration[] {
    const registered: Registration[] = [];
    const window = {
      wc: {
        wcBlocksRegistry: { registerPaymentMethod: (config: Registration) => { registered.push(config); } },
        wcSettings: { getSetting: (name: string, fallback: unknown) => (name === 'coinbridge_data' ? data : fallback) },
      },
      wp: {
        element: { createElement: (type: unknown, props: Record<string, unknown> | null, ...children: unknown[]): Element => ({ type, props, children }) },
        htmlEntities: { decodeEntities: (text: string) => text.replace(/&amp;/g, '&') },
        i18n: { __: (text: string) => text },
      },
    };
    vm.runInNewContext(readFileSync(join(PLUGIN, 'assets/js/blocks.js'), 'utf8'), { window });
    return registered;
  }

  it('registers the coinbridge payment method with the server-provided data', () => {
    const registered = load({ title: 'Crypto &amp; co', description: 'BTC, ETH', supports: ['products'] });
    assert.equal(registered.length, 1);
    const method = registered[0]!;
    assert.equal(method.name, 'coinbridge');
    assert.equal(method.ariaLabel, 'Crypto & co');
    assert.equal(method.canMakePayment(), true);
    assert.deepEqual(plain(method.supports), { features: ['products'] });
    // The label renders WooCommerce's PaymentMethodLabel with the title.
    const Label = method.label.type as (props: unknown) => Element;
    const PaymentMethodLabel = () => null;
    const rendered = Label({ components: { PaymentMethodLabel } });
    assert.equal(rendered.type, PaymentMethodLabel);
    assert.deepEqual(plain(rendered.props), { text: 'Crypto & co' });
    const Content = method.content.type as () => Element;
    assert.deepEqual(Content().children, ['BTC, ETH']);
    assert.equal(method.edit.type, method.content.type);
  });

  it('falls back to the default title when no data is given', () => {
    const method = load({})[0]!;
    assert.equal(method.ariaLabel, 'Pay with crypto');
    assert.deepEqual(plain(method.supports), { features: ['products'] });
  });
});

describe('WooCommerce plugin: process-payment.php over real HTTP', () => {
  interface Received { method: string; url: string; headers: http.IncomingHttpHeaders; body: string }
  interface Output {
    result: string; redirect: string | null; notices: { message: string; type: string }[];
    meta: Record<string, string>; orderStatus: string; notes: string[];
  }

  const API_KEY = 'cb_live_TestKey0123456789abcdefABCDEF';
  const ORDER = { id: 1001, order_key: 'wc_order_Xy12Zw34', total: '1234.5', currency: 'EUR', email: 'shopper@example.com', number: 'A-1001' };

  /** A one-route fake Coinbridge answering each request with the next queued reply. */
  async function fakeCoinbridge(replies: { status: number; body: unknown }[]) {
    const received: Received[] = [];
    const server = http.createServer((req, res) => {
      let body = '';
      req.setEncoding('utf8').on('data', (chunk: string) => { body += chunk; });
      req.on('end', () => {
        received.push({ method: req.method ?? '', url: req.url ?? '', headers: req.headers, body });
        const reply = replies.shift() ?? { status: 500, body: { error: { code: 'no_reply', message: 'no reply queued' } } };
        res.writeHead(reply.status, { 'content-type': 'application/json' }).end(JSON.stringify(reply.body));
      });
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    return { url, received, close: () => new Promise<void>((resolve) => server.close(() => resolve())) };
  }

  async function processPayment(url: string, mode?: 'redirect' | 'modal'): Promise<Output> {
    requireTool('php');
    const result = await run('php', [PROCESS_PAYMENT, url, API_KEY, JSON.stringify(ORDER), ...(mode ? [mode] : [])]);
    assert.equal(result.code, 0, `process-payment.php exited ${result.code}:\n${result.stdout}\n${result.stderr}`);
    return JSON.parse(result.stdout) as Output;
  }

  it('sends the documented request and follows the pay URL on success', async () => {
    const payUrl = 'https://pay.example.net/pay/Q2x9RkT4mWn8bVc1zYp0aL';
    const coinbridge = await fakeCoinbridge([{ status: 201, body: { id: 'f0e1d2c3-0000-4000-8000-000000000001', ref: 'Q2x9RkT4mWn8bVc1zYp0aL', status: 'created', payUrl } }]);
    try {
      const out = await processPayment(coinbridge.url);
      assert.equal(out.result, 'success', JSON.stringify(out));
      assert.equal(out.redirect, payUrl);
      assert.deepEqual(out.notices, []);
      assert.equal(out.meta['_coinbridge_ref'], 'Q2x9RkT4mWn8bVc1zYp0aL');
      assert.equal(out.meta['_coinbridge_pay_url'], payUrl);
      assert.equal(out.orderStatus, 'pending');

      assert.equal(coinbridge.received.length, 1);
      const request = coinbridge.received[0]!;
      assert.equal(request.method, 'POST');
      assert.equal(request.url, '/v1/payments');
      assert.equal(request.headers['authorization'], `Bearer ${API_KEY}`);
      assert.equal(request.headers['idempotency-key'], ORDER.order_key);
      assert.equal(request.headers['content-type'], 'application/json');
      assert.deepEqual(JSON.parse(request.body), {
        orderId: '1001',
        amount: '1234.50',
        currency: 'EUR',
        returnUrl: 'https://shop.example/checkout/order-received/1001/?key=wc_order_Xy12Zw34',
        customerEmail: 'shopper@example.com',
        metadata: { orderKey: 'wc_order_Xy12Zw34', orderNumber: 'A-1001' },
      });
    } finally {
      await coinbridge.close();
    }
  });

  it('returns the order-received URL in modal mode', async () => {
    const coinbridge = await fakeCoinbridge([{ status: 200, body: { id: 'x', ref: 'R1', status: 'pending', payUrl: 'https://pay.example.net/pay/R1' } }]);
    try {
      const out = await processPayment(coinbridge.url, 'modal');
      assert.equal(out.result, 'success');
      assert.equal(out.redirect, 'https://shop.example/checkout/order-received/1001/?key=wc_order_Xy12Zw34');
    } finally {
      await coinbridge.close();
    }
  });

  it("shows Coinbridge's error message when it refuses", async () => {
    const coinbridge = await fakeCoinbridge([{ status: 422, body: { error: { code: 'idempotency_key_reused', message: 'This Idempotency-Key was already used with a different request body.' } } }]);
    try {
      const out = await processPayment(coinbridge.url);
      assert.equal(out.result, 'failure');
      assert.equal(out.redirect, null);
      assert.equal(out.notices.length, 1);
      assert.equal(out.notices[0]!.type, 'error');
      assert.match(out.notices[0]!.message, /This Idempotency-Key was already used with a different request body\./);
      assert.deepEqual(out.meta, {});
    } finally {
      await coinbridge.close();
    }
  });

  it('fails with a generic notice when Coinbridge cannot be reached', async () => {
    const coinbridge = await fakeCoinbridge([]);
    const url = coinbridge.url;
    await coinbridge.close();
    const out = await processPayment(url);
    assert.equal(out.result, 'failure');
    assert.match(out.notices[0]!.message, /could not be reached/);
  });

  it('refuses bad usage with exit code 2', async () => {
    requireTool('php');
    const result = await run('php', [PROCESS_PAYMENT, 'not-a-url', API_KEY, '{}']);
    assert.equal(result.code, 2, result.stdout + result.stderr);
  });
});
