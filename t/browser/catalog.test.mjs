// End-to-end tests of the catalogue page (docs/examples/catalog) in
// headless Debian Chromium, driven by playwright-core, against a real httpd
// and PostgreSQL with the sample data (sql/sample.sql).  t/80-browser.t
// starts both and runs this file:
//
//   node --test --test-reporter=tap t/browser/catalog.test.mjs
//
// Environment (origins, no path; the page is at /catalog/ on each):
//   BASE_URL            the API at /images and the page, same origin
//   OTHER_ORIGIN_URL    the page on another origin, listed in ImagesCORSOrigins,
//                       with data-api pointing at BASE_URL/images
//   BLOCKED_ORIGIN_URL  the same page on an origin that is not listed
//   OUT_DIR             where each test saves its screenshots
//
// The tests run in order and some edit the data: each edits its own image.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright-core';

function env(name) {
  const v = process.env[name];
  if (!v) throw new Error(`${name} is not set (t/80-browser.t sets it)`);
  return v;
}
const BASE_URL = env('BASE_URL');
const OTHER_ORIGIN_URL = env('OTHER_ORIGIN_URL');
const BLOCKED_ORIGIN_URL = env('BLOCKED_ORIGIN_URL');
const OUT_DIR = process.env.OUT_DIR
  || path.join(path.dirname(fileURLToPath(import.meta.url)), 'output');
const PAGE = new URL('/catalog/', BASE_URL).href;
const API = new URL('/images', BASE_URL).href;

const DESKTOP = { viewport: { width: 1280, height: 900 } };
const PHONE = { viewport: { width: 390, height: 844 }, isMobile: true,
                hasTouch: true, deviceScaleFactor: 2 };
const ALICE = { user: 'alice', password: 'alice-pw' };
const ALICE_TOKEN = { token: 'alice-token-0123456789abcdef' };
const BOB = { user: 'bob', password: 'bob-pw' };
const BOB_TOKEN = { token: 'bob-token-0123456789abcdef' };

let browser;
let shot = 0;

before(async () => {
  mkdirSync(OUT_DIR, { recursive: true });
  // launch() starts Chromium with a fresh temporary --user-data-dir of its
  // own and removes it on close.  The flags keep Chromium off the network
  // (this machine's is closed) and out of the sandbox (we run as root).
  browser = await chromium.launch({
    executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
    headless: true,
    args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
           '--disable-background-networking', '--disable-component-update',
           '--disable-sync'],
  });
});

after(async () => { if (browser) await browser.close(); });

// A new browser context (its own cache; sign-in lives in page memory) with
// one page at url; fails the test on any uncaught error in the page.
async function open(t, url = PAGE, device = DESKTOP) {
  const context = await browser.newContext(device);
  context.setDefaultTimeout(10000);   // roomy: CI machines are shared
  const errors = [];
  t.after(async () => {
    await context.close();
    assert.deepEqual(errors, [], 'no script errors in the page');
  });
  const page = await newTab(context, errors, url);
  return { page, context, errors };
}

async function newTab(context, errors, url) {
  const page = await context.newPage();
  page.on('pageerror', (e) => errors.push(String(e)));
  page.on('console', (m) => {        // the page must live with a strict CSP
    if (m.type() === 'error' && /Content.Security.Policy/i.test(m.text()))
      errors.push(m.text());
  });
  await page.goto(url);
  return page;
}

async function screenshot(page, name) {
  shot += 1;
  const file = path.join(OUT_DIR, `${String(shot).padStart(2, '0')}-${name}.png`);
  await page.screenshot({ path: file, fullPage: true });
  return file;
}

// Wait until the element's text matches (a string: equals, trimmed).
async function waitText(page, selector, expected, timeout = 10000) {
  const deadline = Date.now() + timeout;
  let text;
  for (;;) {
    text = ((await page.locator(selector).first().textContent()) ?? '')
      .replace(/\s+/g, ' ').trim();
    if (typeof expected === 'string' ? text === expected : expected.test(text))
      return text;
    if (Date.now() > deadline)
      assert.fail(`${selector}: expected ${expected}, have "${text}"`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

function names(page) {
  return page.locator('#results .card-title').allTextContents()
    .then((a) => a.map((s) => s.trim()));
}

async function signIn(page, who) {
  await page.locator('#sign-in > summary').click();
  if (who.token) {
    await page.getByLabel('Token', { exact: true }).fill(who.token);
    await page.getByRole('button', { name: 'Sign in with the token' }).click();
    await waitText(page, '#whoami', 'Signed in with a token.');
  }
  else {
    await page.getByLabel('Username').fill(who.user);
    await page.getByLabel('Password').fill(who.password);
    await page.getByLabel('Password').press('Enter');
    await waitText(page, '#whoami', `Signed in as ${who.user}.`);
  }
}

async function apiImage(id) {
  const res = await fetch(`${API}/${id}`,
    { headers: { Authorization: `Token ${ALICE_TOKEN.token}` } });
  assert.equal(res.status, 200);
  return res.json();
}

const isListResponse = (r) => r.url().startsWith(`${API}?`)
  && r.request().method() === 'GET';

// ---------------------------------------------------------------------------

test('search narrows the list', async (t) => {
  const { page } = await open(t);
  await waitText(page, '#count', '8 images');

  const search = page.getByLabel('Search', { exact: true });
  await search.fill('ubuntu');
  await search.press('Enter');
  await waitText(page, '#count', '3 images');
  assert.deepEqual(await names(page), ['CUDA 7.5 Deep Learning',
    'Galaxy Genomics Workbench', 'Ubuntu 14.04 LTS']);

  const creator = page.getByLabel('Creator');
  await creator.fill('bob');
  await creator.press('Enter');
  await waitText(page, '#count', '1 image');
  assert.deepEqual(await names(page), ['CUDA 7.5 Deep Learning']);
  await screenshot(page, 'search-desktop');

  // Clear, then a tag in a result filters by that tag
  await page.getByRole('button', { name: 'Clear' }).click();
  await waitText(page, '#count', '8 images');
  await page.getByRole('button', { name: 'Show images tagged workshop' }).first().click();
  await waitText(page, '#count', '2 images');
  assert.equal(await page.getByLabel('Tag', { exact: true }).inputValue(), 'workshop');
  assert.deepEqual(await names(page), ['Summer School 2016', 'Docker Workshop']);

  await search.fill('no such thing');
  await search.press('Enter');
  await waitText(page, '#count', 'No images match.');
  assert.equal(await page.locator('#results li').count(), 0);
});

test('the detail view shows tags, versions and dates', async (t) => {
  const { page } = await open(t);
  const search = page.getByLabel('Search', { exact: true });
  await search.fill('ubuntu');
  await search.press('Enter');
  await waitText(page, '#count', '3 images');

  // by keyboard: the result's link, Enter
  const link = page.getByRole('link', { name: 'Ubuntu 14.04 LTS' });
  await link.focus();
  await page.keyboard.press('Enter');
  await waitText(page, '#detail-heading', 'Ubuntu 14.04 LTS');
  assert.equal(await page.evaluate(() => document.activeElement.id), 'detail-heading',
    'focus moves to the image heading');
  await waitText(page, '#detail-creator', 'alice');
  await waitText(page, '#detail-visibility', 'Public');
  await waitText(page, '#detail-start', '2015-03-30 18:30 UTC');
  assert.equal(await page.locator('#detail-start time').getAttribute('datetime'),
    '2015-03-30T18:30:45.501948Z');
  await waitText(page, '#detail-end', 'No end date');
  await waitText(page, '#detail-uuid', 'f268aebc-d956-11e4-b9d6-1681e6b88ec1');
  assert.deepEqual(
    (await page.locator('#detail-tags li').allTextContents()).map((s) => s.trim()),
    ['docker Container runtime installed', 'ubuntu Ubuntu Linux']);
  const rows = await page.locator('#detail-versions tbody tr').evaluateAll((trs) =>
    trs.map((tr) => Array.from(tr.cells, (c) => c.textContent.trim())));
  assert.deepEqual(rows, [['1.0', '2015-03-30 18:30 UTC'], ['1.1', '2015-06-15 10:00 UTC']],
    'versions in order, the ended 0.9-beta left out');
  await waitText(page, '#edit-note', 'Sign in as the creator (alice) to edit this image.');
  assert.equal(await page.locator('#edit-form').isVisible(), false);
  await screenshot(page, 'detail-desktop');

  // back: the same filtered list, focus on the link that was opened
  await page.getByRole('link', { name: 'Back to the results' }).press('Enter');
  await waitText(page, '#count', '3 images');
  assert.equal(await page.evaluate(() => document.activeElement.textContent),
    'Ubuntu 14.04 LTS');
});

test('paging follows the next and previous links of the API', async (t) => {
  const { page } = await open(t);
  await waitText(page, '#count', '8 images');

  const [first] = await Promise.all([
    page.waitForResponse(isListResponse),
    page.getByLabel('Per page').selectOption('5'),
  ]);
  const page1 = await first.json();
  assert.equal(page1.previous, null);
  assert.match(page1.next, /[?&]page=2(&|$)/);
  await waitText(page, '#page-info', 'Page 1 of 2');
  assert.deepEqual(await names(page), ['Ünïcode façade', 'Summer School 2016',
    'Docker Workshop', 'CUDA 7.5 Deep Learning', '100% pure_python']);
  assert.equal(await page.locator('#prev-page').isDisabled(), true);

  // Next, by keyboard: the request is the API's "next" URL as it was given
  const [second] = await Promise.all([
    page.waitForResponse(isListResponse),
    page.locator('#next-page').press('Enter'),
  ]);
  assert.equal(second.url(), page1.next);
  const page2 = await second.json();
  await waitText(page, '#page-info', 'Page 2 of 2');
  assert.deepEqual(await names(page), ['Galaxy Genomics Workbench',
    'CentOS 7 Base', 'Ubuntu 14.04 LTS']);
  assert.equal(await page.locator('#next-page').isDisabled(), true);
  assert.equal(page2.next, null);
  await screenshot(page, 'paging-page2-desktop');

  const [back] = await Promise.all([
    page.waitForRequest((r) => r.url().startsWith(`${API}?`)),
    page.locator('#prev-page').click(),
  ]);
  assert.equal(back.url(), page2.previous);
  assert.equal(new URL(page2.previous).searchParams.has('page'), false,
    'the link to page 1 has no page parameter');
  await waitText(page, '#page-info', 'Page 1 of 2');
  assert.equal((await names(page))[0], 'Ünïcode façade');
});

test('an anonymous visitor sees no private image', async (t) => {
  const { page } = await open(t, PAGE, PHONE);
  await waitText(page, '#count', '8 images');
  const anon = await names(page);
  for (const hidden of ["Alice's Lab Environment", 'Sequencing Pipeline (draft)',
                        'Build Farm Worker', 'Ubuntu 12.04 (retired)'])
    assert.ok(!anon.includes(hidden), `${hidden} is not listed`);
  assert.equal(await page.locator('#results .badge').count(), 0, 'no "Private" badge');
  // one column on a phone, nothing wider than the screen
  const cards = await page.locator('#results .card').evaluateAll((els) =>
    els.slice(0, 2).map((e) => e.getBoundingClientRect().left));
  assert.equal(cards[0], cards[1], 'results in one column');
  assert.ok(await page.evaluate(() => document.documentElement.scrollWidth <= 390),
    'no horizontal scrolling at 390 px');
  await screenshot(page, 'anonymous-phone');

  // not even by its address
  await page.goto(`${PAGE}#/images/5`);
  await waitText(page, '#status', /^Not found: .*not visible to visitors who are not signed in\.$/);
  assert.equal(await page.locator('.detail-grid').isVisible(), false);

  // the creator, signed in, does see hers
  await page.goto(PAGE);
  await signIn(page, ALICE);
  await waitText(page, '#count', '10 images');
  const card = page.locator('#results .card', { hasText: "Alice's Lab Environment" });
  await waitText(page, '#results .card:has-text("Alice\'s Lab Environment") .badge', 'Private');
  assert.equal(await card.count(), 1);
  await screenshot(page, 'signed-in-alice-phone');
});

test('the creator edits a name and sees it saved', async (t) => {
  const { page } = await open(t);
  await signIn(page, ALICE);
  await page.getByRole('link', { name: 'Docker Workshop' }).click();
  await waitText(page, '#detail-heading', 'Docker Workshop');
  const name = page.getByLabel('Name', { exact: true });
  await name.waitFor();

  // the API's field errors appear next to their fields
  await name.fill('   ');
  await page.getByLabel('End date').fill('next week');
  await page.getByRole('button', { name: 'Save changes' }).click();
  await waitText(page, '#edit-name-error', 'This field may not be blank.');
  await waitText(page, '#edit-end-date-error', /^Datetime has wrong format\./);
  await waitText(page, '#edit-status', 'Not saved: see the messages next to the fields.');
  assert.equal(await name.getAttribute('aria-invalid'), 'true');
  assert.match(await name.getAttribute('aria-describedby'), /\bedit-name-error\b/);
  assert.match(await page.getByLabel('End date').getAttribute('aria-describedby'),
    /\bedit-end-date-hint\b.*\bedit-end-date-error\b/);
  assert.equal(await page.evaluate(() => document.activeElement.id), 'edit-name');
  await screenshot(page, 'edit-field-errors-desktop');
  assert.equal((await apiImage(12)).name, 'Docker Workshop', 'nothing saved');

  await name.fill('Docker Workshop (spring term)');
  await page.getByLabel('End date').fill('');
  await name.press('Enter');
  await waitText(page, '#edit-status', /^Saved at \d\d:\d\d:\d\d\.$/);
  await waitText(page, '#detail-heading', 'Docker Workshop (spring term)');
  assert.equal(await name.getAttribute('aria-invalid'), null);
  assert.equal(await page.locator('#edit-name-error').isVisible(), false);
  assert.equal((await apiImage(12)).name, 'Docker Workshop (spring term)');
  await screenshot(page, 'edit-saved-desktop');

  await page.getByRole('link', { name: 'Back to the results' }).click();
  assert.ok((await names(page)).includes('Docker Workshop (spring term)'),
    'the list shows the new name');
});

test("a second tab's stale edit gets the 412 message", async (t) => {
  const { page: tab1, context, errors } = await open(t, `${PAGE}#/images/1`);
  const tab2 = await newTab(context, errors, `${PAGE}#/images/1`);
  await signIn(tab1, ALICE);
  await signIn(tab2, ALICE_TOKEN);
  for (const tab of [tab1, tab2]) await tab.getByLabel('Name', { exact: true }).waitFor();
  const before = await apiImage(1);

  await tab1.getByLabel('Description').fill('Edited in the first tab.');
  await tab1.getByRole('button', { name: 'Save changes' }).click();
  await waitText(tab1, '#edit-status', /^Saved at/);

  await tab2.bringToFront();
  await tab2.getByLabel('Name', { exact: true }).fill('Ubuntu 14.04 LTS (stale edit)');
  await tab2.getByRole('button', { name: 'Save changes' }).click();
  await waitText(tab2, '#edit-status',
    /^Not saved: this image has changed since you loaded it\b/);
  assert.equal(await tab2.getByRole('button', { name: 'Load the current version' })
    .isVisible(), true);
  await screenshot(tab2, 'stale-edit-412-desktop');

  const now = await apiImage(1);
  assert.equal(now.name, before.name, 'the stale edit changed nothing');
  assert.equal(now.description, 'Edited in the first tab.');

  await tab2.getByRole('button', { name: 'Load the current version' }).click();
  await waitText(tab2, '#edit-status', 'Loaded the current version.');
  assert.equal(await tab2.getByLabel('Description').inputValue(), 'Edited in the first tab.');
  assert.equal(await tab2.getByLabel('Name', { exact: true }).inputValue(), 'Ubuntu 14.04 LTS');
});

test('a non-creator sees the 403 message', async (t) => {
  // with a token the page cannot know who is signed in: the API says 403
  const { page } = await open(t, `${PAGE}#/images/3`, PHONE);
  await signIn(page, BOB_TOKEN);
  await waitText(page, '#edit-note', 'Only the creator (carol) can save changes.');
  await page.getByLabel('Name', { exact: true }).fill('Galaxy, taken over by bob');
  await page.getByRole('button', { name: 'Save changes' }).click();
  await waitText(page, '#edit-status',
    'Not saved: only the creator can edit this image.');
  assert.equal((await apiImage(3)).name, 'Galaxy Genomics Workbench');
  await screenshot(page, 'not-creator-403-phone');
  assert.ok(await page.evaluate(() => document.documentElement.scrollWidth <= 390),
    'no horizontal scrolling at 390 px');

  // with a password it knows, and offers no form at all
  await page.getByRole('button', { name: 'Sign out' }).click();
  await signIn(page, BOB);
  await waitText(page, '#edit-note', 'Only the creator can edit this image: '
    + 'it belongs to carol, and you are signed in as bob.');
  assert.equal(await page.locator('#edit-form').isVisible(), false);
});

test('a page on another origin reads the API only when its origin is listed', async (t) => {
  const other = new URL('/catalog/', OTHER_ORIGIN_URL).href;
  const { page, context, errors } = await open(t, other);
  await waitText(page, '#count', '8 images');
  await page.getByRole('link', { name: 'CentOS 7 Base' }).click();
  await waitText(page, '#detail-creator', 'bob');

  // signed in, it edits too: the preflight allows If-Match, the ETag is exposed
  await page.goto(`${other}#/images/6`);
  await signIn(page, ALICE_TOKEN);
  await page.getByLabel('Description').fill('Edited from another origin.');
  const [patch] = await Promise.all([
    page.waitForRequest((r) => r.method() === 'PATCH'),
    page.getByRole('button', { name: 'Save changes' }).click(),
  ]);
  assert.match((await patch.allHeaders())['if-match'] ?? '', /^"[0-9a-f]{32}"$/);
  await waitText(page, '#edit-status', /^Saved at/);
  assert.equal((await apiImage(6)).description, 'Edited from another origin.');
  await screenshot(page, 'listed-origin-desktop');

  const blocked = await newTab(context, errors, new URL('/catalog/', BLOCKED_ORIGIN_URL).href);
  await waitText(blocked, '#status', /^Could not reach the API at .*ImagesCORSOrigins\.$/);
  assert.equal(await blocked.locator('#results li').count(), 0);
  assert.equal(await blocked.locator('#count').textContent(), '');
  await screenshot(blocked, 'unlisted-origin-desktop');
});
