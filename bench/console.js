/**
 * The console (DESIGN §17) in a real browser (Debian's chromium through playwright-core): how
 * long the posture overview takes to show its score with BENCH_CONSOLE_EVENTS (100,000) events in
 * the tenant, and the latency from the gateway's 202 to the event's row in the live feed, at a
 * steady offered load. Beside the first, the dashboard document alone (the API call the page
 * makes), so the page's own share shows.
 */
const os = require('node:os');
const bench = require('./lib');

const EVENTS = Number(process.env.BENCH_CONSOLE_EVENTS ?? 100_000);
const PAINTS = 5;
const SECONDS = Number(process.env.BENCH_SECONDS ?? 20);
const RATE = Number(process.env.BENCH_CONSOLE_RATE ?? 5);
const PORT = Number(process.env.BENCH_CONSOLE_PORT ?? 18970);
const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';

async function run() {
  const { chromium } = require('playwright-core');
  const env = bench.benchEnv('console', { AISPM_TOPIC_REFRESH_MS: '500' });
  const { gateway, api, services } = bench.startPlatform(env, PORT);
  const slug = bench.tenantPrefix('console');
  let operator;
  let browser;
  try {
    await Promise.all(services.map((s) => bench.waitReady(`${s.url}/readyz`)));
    operator = bench.bootstrap(env);
    await bench.awaitOperator(api.url, operator);
    const tenantRef = `tenant:${slug}`;
    await bench.admin(api.url, operator, 'POST', '/tenants', { slug, tenant_ref: tenantRef });
    const { api_key: collectorKey } = await bench.admin(api.url, operator, 'POST', '/collectors', {
      tenant: slug,
    });
    await bench.awaitCollector(gateway.url, collectorKey);
    const { api_key: readerKey } = await bench.admin(api.url, operator, 'POST', '/readers', {
      tenant: slug,
      role: 'viewer',
    });
    const post = async (events) => {
      const response = await fetch(`${gateway.url}/enterprise/aispm/events/batch`, {
        method: 'POST',
        headers: { authorization: `Bearer ${collectorKey}`, 'content-type': 'application/json' },
        body: JSON.stringify(events),
      });
      await response.arrayBuffer();
      if (response.status !== 202) throw new Error(`batch answered ${response.status}`);
    };
    // The tenant's history: EVENTS events in batches of 500, four at a time.
    const loadStarted = Date.now();
    let sent = 0;
    await Promise.all(
      Array.from({ length: 4 }, async () => {
        while (sent < EVENTS) {
          const size = Math.min(500, EVENTS - sent);
          sent += size;
          await post(Array.from({ length: size }, () => bench.envelope(tenantRef)));
        }
      }),
    );
    const dashboard = async () => {
      const response = await fetch(`${api.url}/enterprise/aispm/dashboard`, {
        headers: { authorization: `Bearer ${readerKey}` },
      });
      return response.json();
    };
    await bench.waitFor(
      `${EVENTS} events projected`,
      async () => (await dashboard()).overview.total_decisions >= EVENTS,
      900_000,
    );
    const loadSeconds = (Date.now() - loadStarted) / 1000;

    browser = await chromium.launch({ executablePath: CHROMIUM, args: ['--no-sandbox'] });
    const context = await browser.newContext();
    const page = await context.newPage();
    await page.goto(`${api.url}/console/`);
    await page.fill('input[type=password]', readerKey);
    await page.press('input[type=password]', 'Enter');
    await page.waitForSelector('[data-testid=posture-score]', { timeout: 60_000 });

    // First paint of the overview: a fresh load of the page, signed in, until the score shows.
    const paints = [];
    const documents = [];
    for (let i = 0; i < PAINTS; i += 1) {
      const apiStarted = performance.now();
      await dashboard();
      documents.push(performance.now() - apiStarted);
      const started = performance.now();
      await page.goto(`${api.url}/console/`);
      await page.waitForSelector('[data-testid=posture-score]', { timeout: 60_000 });
      paints.push(performance.now() - started);
    }

    // 202 → row in the live feed: the page reports each event id as it appears.
    const accepted = new Map();
    const shown = new Map();
    await page.exposeFunction('__feedRow', (id, at) => {
      if (accepted.has(id) && !shown.has(id)) shown.set(id, at - accepted.get(id));
    });
    await page.goto(`${api.url}/console/live`);
    await page.waitForSelector('[data-testid=live-feed]', { timeout: 60_000 });
    await page.evaluate(() => {
      const seen = new Set();
      const report = () => {
        const feed = document.querySelector('[data-testid=live-feed]');
        for (const match of (feed?.textContent ?? '').matchAll(/evt_bench_\d+_\d+/g)) {
          if (!seen.has(match[0])) {
            seen.add(match[0]);
            window.__feedRow(match[0], Date.now());
          }
        }
      };
      new MutationObserver(report).observe(document.body, {
        childList: true,
        subtree: true,
        characterData: true,
      });
    });
    let failed = 0;
    await bench.fixedLoad(
      async () => {
        const event = bench.envelope(tenantRef);
        await post([event])
          .then(() => accepted.set(event.event.event_id, Date.now()))
          .catch(() => (failed += 1));
      },
      RATE,
      SECONDS,
    );
    await bench
      .waitFor('the last rows', async () => shown.size >= accepted.size, 30_000)
      .catch(() => undefined);

    const sorted = (values) => [...values].sort((a, b) => a - b);
    const ms = (values, p) => bench.percentile(sorted(values), p).toFixed(0);
    const feed = [...shown.values()];
    return [
      `## Console (\`npm run bench:console\`)`,
      ``,
      `Measured on ${bench.machine()}, load average ${os.loadavg()[0].toFixed(1)} at the end, in Debian's Chromium (headless) through playwright-core. The tenant held ${EVENTS.toLocaleString('en')} events (loaded in ${loadSeconds.toFixed(0)} s).`,
      ``,
      bench.table(
        ['Measure', 'samples', 'p50 ms', 'max ms'],
        [
          [
            'Overview: page load until the posture score shows (signed in)',
            String(paints.length),
            ms(paints, 50),
            ms(paints, 100),
          ],
          [
            'The dashboard document alone (the API call the page makes)',
            String(documents.length),
            ms(documents, 50),
            ms(documents, 100),
          ],
        ],
      ),
      ``,
      `Live feed: single-event batches at a steady ${RATE} events/s for ${SECONDS} s (${failed} failed), latency from the 202 to the event's id showing in the feed (wall clock, same machine):`,
      ``,
      bench.table(
        ['Path', 'events shown', 'p50 ms', 'p99 ms', 'max ms'],
        [
          [
            '202 → row in the live feed',
            `${feed.length} / ${accepted.size}`,
            ms(feed, 50),
            ms(feed, 99),
            ms(feed, 100),
          ],
        ],
      ),
    ].join('\n');
  } finally {
    await browser?.close();
    if (operator) await bench.admin(api.url, operator, 'DELETE', `/tenants/${slug}`).catch(() => undefined);
    await Promise.all(services.map(bench.stopService));
    await bench.deleteGroups(env.AISPM_GROUP_PREFIX).catch(() => undefined);
    await bench.dropDatabase(env.CLICKHOUSE_DATABASE).catch(() => undefined);
  }
}

module.exports = { run };
