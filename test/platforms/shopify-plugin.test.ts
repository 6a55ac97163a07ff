/**
 * The Shopify CLI configuration in plugins/shopify must agree with what the server handles;
 * nothing else checks it before an operator deploys it.
 */
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { SHOPIFY_WEBHOOK_TOPICS } from '../../src/platforms/shopify/topics.ts';

const PLUGIN = join(dirname(fileURLToPath(import.meta.url)), '../../plugins/shopify');
const EXTENSION = join(PLUGIN, 'extensions/coinbridge-payment-block');
const appToml = readFileSync(join(PLUGIN, 'shopify.app.toml'), 'utf8');
const extensionToml = readFileSync(join(EXTENSION, 'shopify.extension.toml'), 'utf8');

/** All string values of every `key = [...]` array in a TOML document (comments removed first). */
function stringArrays(toml: string, key: string): string[] {
  const code = toml.replace(/#.*$/gm, '');
  const arrays = [...code.matchAll(new RegExp(`^\\s*${key}\\s*=\\s*\\[([^\\]]*)\\]`, 'gm'))];
  return arrays.flatMap((m) => [...m[1]!.matchAll(/"([^"]*)"/g)].map((s) => s[1]!));
}

function stringValues(toml: string, key: string): string[] {
  const code = toml.replace(/#.*$/gm, '');
  return [...code.matchAll(new RegExp(`^\\s*${key}\\s*=\\s*"([^"]*)"`, 'gm'))].map((m) => m[1]!);
}

describe('Shopify plugin configuration', () => {
  it('subscribes exactly the webhook topics the server handles', () => {
    const declared = [...stringArrays(appToml, 'topics'), ...stringArrays(appToml, 'compliance_topics')];
    assert.equal(new Set(declared).size, declared.length, `a topic is declared twice: ${declared.join(', ')}`);
    assert.deepEqual(new Set(declared), new Set(SHOPIFY_WEBHOOK_TOPICS));
    for (const uri of stringValues(appToml, 'uri')) assert.match(uri, /^https:\/\/.+\/shopify\/webhooks$/);
  });

  it('asks for the order scopes and redirects to the OAuth callback', () => {
    const scopes = stringValues(appToml, 'scopes')[0]?.split(',').map((s) => s.trim()) ?? [];
    assert.ok(scopes.includes('read_orders') && scopes.includes('write_orders'), scopes.join(','));
    const redirects = stringArrays(appToml, 'redirect_urls');
    assert.ok(redirects.length > 0);
    for (const url of redirects) assert.ok(url.endsWith('/shopify/callback'), url);
  });

  it('declares both extension targets, each with a module that exists', () => {
    const targets = stringValues(extensionToml, 'target');
    const modules = stringValues(extensionToml, 'module');
    assert.deepEqual(new Set(targets), new Set(['purchase.thank-you.block.render', 'customer-account.order-status.block.render']));
    assert.equal(modules.length, targets.length);
    for (const module of modules) assert.ok(existsSync(join(EXTENSION, module)), `${module} is missing`);
    assert.match(extensionToml, /^\s*network_access\s*=\s*true/m);
    assert.deepEqual(stringValues(extensionToml, 'key'), ['coinbridge_url']);
  });
});
