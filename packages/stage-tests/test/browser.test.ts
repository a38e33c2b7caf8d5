// Each stage's page as a person sees it, in a real Chromium (Debian's, driven headless by
// playwright-core): the title, the headings and the list as rendered; a hostile User-Agent
// shown as text, running nothing. Screenshots go to results/screenshots/ (not committed).
import assert from 'node:assert/strict';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { after, before, test } from 'node:test';
import { chromium, type Browser } from 'playwright-core';
import { STAGES, startStage, useServices } from './stages.js';

const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
const SCREENSHOTS = fileURLToPath(new URL('../../../../results/screenshots/', import.meta.url));
const HOSTILE = `<img src=x onerror="window.pwned='img'"><script>window.pwned='script'</script>`;

const file = useServices();
let browser: Browser;

before(async () => {
  mkdirSync(SCREENSHOTS, { recursive: true });
  browser = await chromium.launch({
    executablePath: CHROMIUM,
    // No network here but loopback: keep Chromium from reaching for Google's services.
    args: [
      '--no-sandbox',
      '--disable-gpu',
      '--disable-quic',
      '--no-first-run',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
    ],
  });
});
after(() => browser?.close());

for (const stage of STAGES) {
  test(`${stage.name}: the page as rendered, and a hostile User-Agent shown as text`, async (t) => {
    const app = await startStage(stage, file.services);
    t.after(() => app.close());
    const context = await browser.newContext({ userAgent: HOSTILE });
    t.after(() => context.close());
    const page = await context.newPage();
    const response = await page.goto(app.url + '/');
    assert.equal(response?.status(), 200);
    assert.equal(await page.title(), 'VisitMe Example');
    assert.equal(await page.locator('h1').innerText(), 'VisitMe example');
    assert.equal(await page.locator('h3').innerText(), 'Last 10 visits');

    const items = await page.locator('ul > li').allInnerTexts();
    assert.equal(items.length, 1);
    assert.match(items[0]!, /^\w{3} \w{3} +\d{1,2} \d\d:\d\d:\d\d \d{4} from .+: /);
    assert.ok(items[0]!.endsWith(`: ${HOSTILE}`), 'the User-Agent appears as text, verbatim');
    assert.equal(await page.locator('ul img, ul script').count(), 0, 'no element was injected');
    assert.equal(await page.evaluate(() => (globalThis as { pwned?: string }).pwned), undefined);

    await page.screenshot({ path: join(SCREENSHOTS, `${stage.name}.png`), fullPage: true });
  });
}
