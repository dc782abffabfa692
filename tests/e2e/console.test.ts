/**
 * Issue 18: the console in a real browser (Debian's chromium, driven by playwright-core). An
 * approver signs in, approves from the inbox seeing the exact params, watches the session's
 * timeline update live, sees the verified badge and who decided; another org's token sees none
 * of it. The run saves the screenshot the README shows (docs/console.png).
 */
import { existsSync } from 'node:fs';
import path from 'node:path';
import { type Browser, chromium, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { apiCaller, type Harness, startHarness } from '../unit/api/api-harness.ts';
import { type OtlpReceiver, otelEnv, startOtlpReceiver } from '../helpers/otlp-receiver.ts';

const CHROMIUM = ['/usr/bin/chromium', '/usr/bin/chromium-browser'].find((p) => existsSync(p));
const ROOT = path.resolve(import.meta.dirname, '../..');
const TOKENS = {
  'tok-runner': 'acme:runner:run+read',
  'tok-alice': 'acme:alice:approve+read',
  'tok-globex': 'globex:gl-admin:run+approve+read',
};

// CI installs chromium (.ci/run) and runs this always (a missing browser fails there); a
// developer machine without chromium skips it.
describe.runIf(CHROMIUM !== undefined || process.env.CI === 'true')('the console in a browser', () => {
  let h: Harness;
  let receiver: OtlpReceiver;
  let base: string;
  let browser: Browser;
  beforeAll(async () => {
    // Traces on (to a local receiver), so the timeline shows the session's trace id.
    receiver = await startOtlpReceiver();
    h = await startHarness({ api_tokens: TOKENS }, {}, { ...otelEnv(receiver) });
    await h.api.listen({ port: 0, host: '127.0.0.1' });
    base = `http://127.0.0.1:${(h.api.server.address() as { port: number }).port}`;
    browser = await chromium.launch({ executablePath: CHROMIUM, args: ['--no-sandbox'] });
  }, 60_000);
  afterAll(async () => {
    await browser?.close();
    await h?.close();
    await receiver?.close();
  });

  const call = apiCaller(() => h.api);

  async function signIn(token: string): Promise<Page> {
    const page = await browser.newPage({ viewport: { width: 1200, height: 800 } });
    await page.goto(`${base}/console/`);
    await page.getByLabel('API token').fill(token);
    await page.getByRole('button', { name: 'Sign in' }).click();
    await page.getByRole('button', { name: 'Sessions' }).waitFor();
    return page;
  }

  it('approve from the inbox, watch the timeline, see the badge and who decided; another org sees nothing', async () => {
    // A session asks to delete a file it wrote: the action waits for a person.
    const session = {
      org_id: 'acme',
      user_id: 'u',
      agent_id: 'ops-agent',
      session_id: 'console-demo',
      tools: ['echo', 'write_file', 'delete_file'],
      planner: { type: 'external' },
    };
    expect((await call('tok-runner', 'POST', '/v1/sessions', session)).statusCode).toBe(201);
    await call('tok-runner', 'POST', '/v1/sessions/console-demo/actions', [
      { name: 'write_file', params: { path: 'reports/q3.txt', content: 'draft' } },
    ]);
    const waiting = call('tok-runner', 'POST', '/v1/sessions/console-demo/actions', [
      { id: 'delete-q3', name: 'delete_file', params: { path: 'reports/q3.txt' } },
    ]);

    const page = await signIn('tok-alice');
    await page.getByRole('button', { name: 'Approvals' }).click();
    const card = page.getByRole('article', { name: 'delete_file in session console-demo' });
    await card.waitFor();
    expect(await card.locator('pre').textContent()).toContain('"path": "reports/q3.txt"');
    await card.getByRole('button', { name: 'Approve' }).click();
    expect((await waiting).json().results[0]).toMatchObject({ action_id: 'delete-q3', success: true });
    await page.getByRole('status').filter({ hasText: 'Approved delete_file in console-demo' }).waitFor();

    // The session's timeline: the decision with its decider, and the verified badge.
    await page.getByRole('button', { name: 'Sessions' }).click();
    await page.getByRole('button', { name: 'console-demo' }).click();
    await page.getByText('decided by alice').first().waitFor();
    await page.locator('.badge.verified').waitFor();
    expect(await page.getByTestId('trace-id').textContent()).toMatch(/^[0-9a-f]{32}$/);
    const before = await page.locator('tbody tr').count();
    // A new action appears without a reload (the event stream).
    await call('tok-runner', 'POST', '/v1/sessions/console-demo/actions', [
      { name: 'echo', params: { message: 'live' } },
    ]);
    await page.locator('tbody tr').nth(before).waitFor({ timeout: 10_000 });
    await page.screenshot({ path: path.join(ROOT, 'docs', 'console.png'), fullPage: true });

    // Keyboard: the navigation is reachable and works without a mouse.
    await page.getByRole('button', { name: 'Approvals' }).focus();
    await page.keyboard.press('Enter');
    await page.getByRole('heading', { name: 'Approvals' }).waitFor();

    // Another org's approver sees none of it.
    const other = await signIn('tok-globex');
    await other.getByRole('table').waitFor();
    expect(await other.getByText('console-demo').count()).toBe(0);
    await other.getByRole('button', { name: 'Approvals' }).click();
    await other.getByText('Nothing waits for a decision.').waitFor();
    await other.close();
    await page.close();
  }, 60_000);

  it('a wrong token is refused on the sign-in form, with a message', async () => {
    const page = await browser.newPage();
    await page.goto(`${base}/console/`);
    await page.getByLabel('API token').fill('not-a-token');
    await page.getByRole('button', { name: 'Sign in' }).click();
    await page.getByRole('alert').filter({ hasText: 'Not signed in' }).waitFor();
    await page.close();
  });

  it('serves only its own files, with a content security policy', async () => {
    const page = await fetch(`${base}/console/`);
    expect(page.status).toBe(200);
    expect(page.headers.get('content-security-policy')).toContain("script-src 'self'");
    expect((await fetch(`${base}/console/vendor/preact-htm.js`)).status).toBe(200);
    for (const probe of [
      '../../package.json',
      '..%2f..%2fpackage.json',
      'nope.js',
      'valueOf',
      '__proto__',
      'constructor',
    ]) {
      expect((await fetch(`${base}/console/${probe}`)).status, probe).toBe(404);
    }
  });
});
