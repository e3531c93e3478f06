import { existsSync, mkdtempSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { afterAll, expect, test } from 'vitest';
import { explainCase } from '../../../src/harness/visual/blame.ts';
import { toHtml } from '../../../src/harness/visual/html.ts';
import { visualCase } from '../../../src/harness/visual/model.ts';
import { plantedCounterexamples } from './planted-bugs.ts';

/**
 * The HTML report rendered by a real browser: Debian's chromium through puppeteer-core (no
 * browser download), headless, sandbox and GPU off, no background networking. Skipped with
 * the reason when no chromium is installed, unless STREAMCHECK_BROWSER=required (CI).
 */
// The page functions below run in the browser; the project compiles without the DOM library.
interface PageElement {
  getAttribute(name: string): string | null;
  getBoundingClientRect(): { width: number; height: number };
  readonly textContent: string | null;
}
declare const document: { querySelector(selector: string): PageElement | null; querySelectorAll(selector: string): Iterable<PageElement> };
declare function getComputedStyle(element: PageElement): { fill: string };

const CHROMIUM_CANDIDATES = [process.env['STREAMCHECK_CHROMIUM'], '/usr/bin/chromium', '/usr/bin/chromium-browser', '/usr/bin/google-chrome'].filter((p): p is string => p !== undefined && p !== '');
const chromium = CHROMIUM_CANDIDATES.find((path) => existsSync(path));
const required = process.env['STREAMCHECK_BROWSER'] === 'required';
const workDirectory = mkdtempSync(join(tmpdir(), 'streamcheck-html-'));
afterAll(() => rmSync(workDirectory, { recursive: true, force: true }));

test('the HTML report renders in headless Chromium: lanes, the blamed record highlighted, no console errors, no network', async (context) => {
  if (chromium === undefined) {
    if (required) throw new Error(`STREAMCHECK_BROWSER=required but no chromium at ${CHROMIUM_CANDIDATES.join(', ')} (apt-get install -y chromium)`);
    context.skip(`no chromium installed (looked at ${CHROMIUM_CANDIDATES.join(', ')}); apt-get install -y chromium, or set STREAMCHECK_BROWSER=required to make this a failure`);
    return;
  }
  const planted = (await plantedCounterexamples()).find((p) => p.scenario.name === 'odd-even-sum' && p.bug === 'incrby-sink')!;
  const chains = await explainCase(planted.scenario, planted.result);
  const visual = visualCase(planted.result, chains);
  const htmlPath = join(workDirectory, 'report.html');
  writeFileSync(htmlPath, toHtml(visual));
  const pageUrl = pathToFileURL(htmlPath).href;

  const { launch } = await import('puppeteer-core');
  const browser = await launch({
    executablePath: chromium,
    headless: true,
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--disable-default-apps', '--disable-sync', '--no-first-run', '--disable-dev-shm-usage'],
  });
  try {
    const page = await browser.newPage();
    const consoleErrors: string[] = [];
    const requests: string[] = [];
    page.on('console', (message) => {
      if (message.type() === 'error') consoleErrors.push(message.text());
    });
    page.on('pageerror', (error) => consoleErrors.push(String(error)));
    page.on('request', (request) => requests.push(request.url()));
    await page.setViewport({ width: 1400, height: 900 });
    await page.goto(pageUrl, { waitUntil: 'load', timeout: 60_000 });

    const rendered = await page.evaluate(() => {
      const lanes = [...document.querySelectorAll('g.lane')].map((lane) => lane.getAttribute('data-lane'));
      const labels = [...document.querySelectorAll('text.lane-label')].map((label) => label.textContent);
      const blamed = [...document.querySelectorAll('circle.event.blamed')];
      const firstFalse = document.querySelector('circle.event.first-false');
      const box = firstFalse?.getBoundingClientRect();
      return {
        lanes,
        labels,
        blamedCount: blamed.length,
        blamedFill: blamed[0] === undefined ? '' : getComputedStyle(blamed[0]).fill,
        firstFalseStep: firstFalse?.getAttribute('data-step') ?? null,
        firstFalseVisible: box !== undefined && box.width > 0 && box.height > 0,
        firstFalseLink: document.querySelector('.chain li.first-false')?.textContent ?? '',
        anomaly: document.querySelector('.anomaly')?.textContent ?? '',
        replay: document.querySelector('#replay code')?.textContent ?? '',
      };
    });
    expect(rendered.lanes).toEqual(['coordinator', ...visual.timeline.taskLanes, ...visual.timeline.externalLanes]);
    expect(rendered.labels).toContain('sum>redis[0]');
    expect(rendered.labels).toContain('redis');
    expect(rendered.blamedCount).toBeGreaterThan(0);
    expect(rendered.blamedFill).toBe('rgb(255, 0, 0)');
    expect(rendered.firstFalseStep).toBe(String(chains[0]!.firstFalseStep));
    expect(rendered.firstFalseVisible).toBe(true);
    expect(rendered.firstFalseLink).toContain(`step ${chains[0]!.firstFalseStep}`);
    expect(rendered.anomaly).toMatch(/duplicate after restore/);
    expect(rendered.replay).toBe(visual.replay);

    // Clicking a link of the blame chain finds its event in the lanes.
    await page.click('.chain li.first-false');
    const focused = await page.evaluate(() => document.querySelector('circle.event.focus')?.getAttribute('data-step') ?? null);
    expect(focused).toBe(String(chains[0]!.firstFalseStep));

    const screenshotPath = join(workDirectory, 'report.png');
    await page.screenshot({ path: screenshotPath, fullPage: true });
    expect(statSync(screenshotPath).size).toBeGreaterThan(10_000);
    expect(consoleErrors).toEqual([]);
    // The page opened from disk and fetched nothing else.
    expect(requests.filter((url) => url !== pageUrl)).toEqual([]);
  } finally {
    await browser.close();
  }
}, 180_000);
