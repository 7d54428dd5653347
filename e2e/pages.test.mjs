// Cloakroom's pages in a real browser: headless Chromium (Debian's, /usr/bin/chromium) driven by
// playwright-core, against a real `cloakroom serve`, in session and hybrid modes.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync } from 'node:fs';
import { join, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright-core';
import { startServer } from './server.mjs';

const here = dirname(fileURLToPath(import.meta.url));
const artifacts = process.env.E2E_ARTIFACTS || join(here, 'artifacts');
mkdirSync(artifacts, { recursive: true });

const PASSWORD = 'correct horse battery staple';
const HOSTILE = '<script>alert(1)</script>';
const CREDENTIAL_COOKIES = ['cloakroom_session', 'cloakroom_access', 'cloakroom_refresh', 'cloakroom_csrf'];

let browser;
before(async () => {
  browser = await chromium.launch({
    executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
    args: ['--no-sandbox', '--disable-background-networking'],
    headless: true,
  });
});
after(async () => { await browser?.close(); });

async function newPage() {
  const context = await browser.newContext();
  const page = await context.newPage();
  // No page of Cloakroom's may ever open a dialog: that would be a script running.
  page.on('dialog', (d) => { throw new Error(`a dialog opened: ${d.message()}`); });
  return { context, page };
}

async function shot(page, mode, name) {
  await page.screenshot({ path: join(artifacts, `${mode}-${name}.png`), fullPage: true });
}

async function signIn(page, url, user, password = PASSWORD) {
  await page.goto(`${url}/login`);
  await page.getByLabel('Username').fill(user);
  await page.getByLabel('Password').fill(password);
  await page.getByRole('button', { name: 'Sign in' }).click();
  await page.waitForLoadState();
}

function path(page) { return new URL(page.url()).pathname; }

async function heading(page) { return (await page.locator('h1').textContent()).trim(); }

async function expectSignedOut(page, url) {
  await page.goto(`${url}/account`);
  assert.equal(path(page), '/login', 'sent to the sign-in page');
  assert.equal(await heading(page), 'Sign in');
}

async function userCard(page, name) {
  return page.locator('article.user').filter({ has: page.locator('h3.username', { hasText: name }) });
}

for (const mode of ['session', 'hybrid']) {
  test(`pages in a real browser (${mode} mode)`, { timeout: 180000 }, async () => {
    const server = await startServer(mode, [['root', PASSWORD, ['admin']]]);
    const { url } = server;
    try {
      // Signing in, from a protected page, comes back to it.
      const a = await newPage();
      await a.page.goto(`${url}/admin`);
      assert.equal(path(a.page), '/login');
      assert.equal(new URL(a.page.url()).searchParams.get('next'), '/admin');
      await shot(a.page, mode, 'login');
      await a.page.getByLabel('Username').fill('root');
      await a.page.getByLabel('Password').fill('wrong password');
      await a.page.getByRole('button', { name: 'Sign in' }).click();
      assert.match(await a.page.locator('[role=alert]').textContent(), /Invalid username or password\./);
      await shot(a.page, mode, 'login-failed');
      await a.page.getByLabel('Username').fill('root');
      await a.page.getByLabel('Password').fill(PASSWORD);
      await a.page.getByRole('button', { name: 'Sign in' }).click();
      assert.equal(path(a.page), '/admin');

      // Scripts cannot read the credentials.
      const visible = await a.page.evaluate(() => document.cookie);
      for (const name of CREDENTIAL_COOKIES) assert.ok(!visible.includes(name), `${name} readable: ${visible}`);
      const cookies = await a.context.cookies();
      const credentials = cookies.filter((c) => CREDENTIAL_COOKIES.includes(c.name));
      assert.ok(credentials.length >= 2, JSON.stringify(cookies.map((c) => c.name)));
      for (const c of credentials) assert.ok(c.httpOnly, `${c.name} is HttpOnly`);

      // The account page lists this session.
      await a.page.goto(`${url}/account`);
      assert.equal((await a.page.locator('#username').textContent()).trim(), 'root');
      assert.equal(await a.page.locator('table.sessions tbody tr').count(), 1);
      assert.equal(await a.page.locator('strong.this').count(), 1);
      await shot(a.page, mode, 'account');

      // A second browser signs in; the first ends its session; the second is signed out.
      const b = await newPage();
      await signIn(b.page, url, 'root');
      assert.equal(path(b.page), '/account');
      await a.page.reload();
      assert.equal(await a.page.locator('table.sessions tbody tr').count(), 2);
      await a.page.locator('table.sessions tbody tr', { hasNot: a.page.locator('strong.this') })
        .getByRole('button', { name: 'Revoke' }).click();
      assert.match(await a.page.locator('[role=status]').textContent(), /session was ended/);
      assert.equal(await a.page.locator('table.sessions tbody tr').count(), 1);
      await expectSignedOut(b.page, url);
      await b.context.close();

      // The admin flow: create, roles, revoke, reset password, disable, enable.
      await a.page.goto(`${url}/admin`);
      await a.page.getByLabel('Username').fill('bob');
      await a.page.getByLabel('Password', { exact: true }).fill('bobs first password');
      await a.page.getByLabel('Roles (comma-separated)').fill('dev');
      await a.page.getByRole('button', { name: 'Add user' }).click();
      assert.match(await a.page.locator('[role=status]').textContent(), /user was added/);
      const bob = await newPage();
      await signIn(bob.page, url, 'bob', 'bobs first password');
      assert.equal(path(bob.page), '/account');
      assert.equal((await bob.page.locator('#username').textContent()).trim(), 'bob');

      await a.page.reload();
      let card = await userCard(a.page, 'bob');
      assert.equal(await card.locator('table.sessions tbody tr').count(), 1, "bob's session is listed");
      await card.getByLabel('Roles').fill('dev,ops');
      await card.getByRole('button', { name: 'Set roles' }).click();
      assert.match(await a.page.locator('[role=status]').textContent(), /roles were changed/);
      assert.match(await (await userCard(a.page, 'bob')).textContent(), /Roles: dev, ops/);
      await expectSignedOut(bob.page, url);

      await signIn(bob.page, url, 'bob', 'bobs first password');
      assert.equal(path(bob.page), '/account');
      await a.page.reload();
      card = await userCard(a.page, 'bob');
      await card.locator('table.sessions').getByRole('button', { name: 'Revoke' }).click();
      assert.match(await a.page.locator('[role=status]').textContent(), /session was ended/);
      await expectSignedOut(bob.page, url);

      await signIn(bob.page, url, 'bob', 'bobs first password');
      card = await userCard(a.page, 'bob');
      await card.getByLabel('New password').fill('bobs second password');
      await card.getByRole('button', { name: 'Reset password' }).click();
      assert.match(await a.page.locator('[role=status]').textContent(), /password was reset/);
      await expectSignedOut(bob.page, url);
      await signIn(bob.page, url, 'bob', 'bobs second password');
      assert.equal(path(bob.page), '/account');

      card = await userCard(a.page, 'bob');
      await card.getByRole('button', { name: 'Disable bob' }).click();
      assert.match(await a.page.locator('[role=status]').textContent(), /disabled/);
      await expectSignedOut(bob.page, url);
      await signIn(bob.page, url, 'bob', 'bobs second password');
      assert.equal(path(bob.page), '/login');
      assert.match(await bob.page.locator('[role=alert]').textContent(), /Invalid username or password\./);
      card = await userCard(a.page, 'bob');
      await card.getByRole('button', { name: 'Enable bob' }).click();
      await signIn(bob.page, url, 'bob', 'bobs second password');
      assert.equal(path(bob.page), '/account');
      await shot(bob.page, mode, 'account-bob');
      await bob.context.close();

      // A hostile username is text, not markup.
      await a.page.getByLabel('Username').fill(HOSTILE);
      await a.page.getByLabel('Password', { exact: true }).fill('a hostile password');
      await a.page.getByRole('button', { name: 'Add user' }).click();
      assert.match(await a.page.locator('[role=status]').textContent(), /user was added/);
      const names = await a.page.locator('h3.username').allTextContents();
      assert.ok(names.some((n) => n.trim() === HOSTILE), JSON.stringify(names));
      assert.equal(await a.page.locator('main script').count(), 0);
      await shot(a.page, mode, 'admin');

      // Signing out; the back button does not bring the account page back.
      await a.page.goto(`${url}/account`);
      await a.page.getByRole('button', { name: 'Sign out', exact: true }).click();
      assert.equal(path(a.page), '/login');
      await a.page.goBack();
      await a.page.waitForLoadState();
      assert.equal(await heading(a.page), 'Sign in', `back showed ${a.page.url()}`);
      await expectSignedOut(a.page, url);
      await a.context.close();
    } finally {
      await server.stop();
    }
  });
}
