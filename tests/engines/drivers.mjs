// @ts-check
// The engines the tests and the bench run the package in, behind one small interface:
// - `serve`: test pages from a folder on 127.0.0.1, cross-origin isolated (COOP/COEP) or not;
// - `launch`: Chromium (Debian's, via playwright-core), Firefox (Debian's firefox-esr, via puppeteer-core over
//   WebDriver BiDi) and WebKitGTK (its MiniBrowser, via WebKitWebDriver under Xvfb), each giving `Tab`s with the same
//   few actions, so one test body runs on all of them;
// - `runtimeCommand` / `runScript`: scripts in Node, Bun (JavaScriptCore) and Deno, from the npm packages.
// A missing engine fails with what to install. Start-up is retried (only start-up); every process started here is
// stopped by `close()`, or killed when this process exits.
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { createServer } from 'node:http';
import { createServer as createNetServer } from 'node:net';
import { tmpdir } from 'node:os';
import { extname, join, normalize, sep } from 'node:path';

export const root = new URL('../..', import.meta.url).pathname;

const TYPES = /** @type {Record<string, string>} */ ({
  '.js': 'text/javascript', '.mjs': 'text/javascript', '.html': 'text/html', '.css': 'text/css', '.wasm': 'application/wasm',
});
const ISOLATION = { 'cross-origin-opener-policy': 'same-origin', 'cross-origin-embedder-policy': 'require-corp' };

/**
 * Serves the files below `dir` (a folder's index.html for its path) on 127.0.0.1, plus generated `routes` by path.
 * `isolated`: every response cross-origin isolated, none, or only under /coi/ (the same paths behind that prefix).
 * @param {string} dir
 * @param {{ isolated?: boolean | '/coi/', routes?: Record<string, string | Uint8Array> }} [options]
 * @returns {Promise<{ base: string, close(): Promise<void> }>}
 */
export async function serve(dir, { isolated = false, routes = {} } = {}) {
  const top = normalize(dir.endsWith(sep) ? dir : dir + sep);
  const server = createServer((req, res) => {
    let url = decodeURIComponent(new URL(req.url ?? '/', 'http://x').pathname);
    let coi = isolated === true;
    if (isolated === '/coi/' && url.startsWith('/coi/')) {
      url = url.slice(4);
      coi = true;
    }
    const headers = coi ? ISOLATION : {};
    const route = routes[url];
    if (route !== undefined) {
      res.writeHead(200, { 'content-type': typeof route === 'string' ? 'text/html' : 'application/octet-stream', ...headers }).end(route);
      return;
    }
    let path = normalize(join(top, url));
    if (path.endsWith(sep)) path = join(path, 'index.html');
    if (!path.startsWith(top) || !existsSync(path) || !statSync(path).isFile()) {
      res.writeHead(404).end();
      return;
    }
    res.writeHead(200, { 'content-type': TYPES[extname(path)] ?? 'application/octet-stream', ...headers }).end(readFileSync(path));
  });
  await new Promise((resolve) => server.listen(0, '127.0.0.1', () => resolve(undefined)));
  const { port } = /** @type {import('node:net').AddressInfo} */ (server.address());
  return {
    base: `http://127.0.0.1:${port}`,
    close: () => new Promise((resolve) => { server.closeAllConnections(); server.close(() => resolve()); }),
  };
}

/**
 * Starts something (an engine) on first use and keeps it, or keeps its failure: every test that needs it then fails
 * with the reason (after a failed `beforeAll`, vitest would only skip them).
 * @template {{ close(): Promise<void> }} T
 * @param {() => Promise<T>} start
 * @returns {(() => Promise<T>) & { close(): Promise<void> }}
 */
export function onFirstUse(start) {
  /** @type {Promise<T> | undefined} */
  let started;
  const use = () => (started ??= start());
  return Object.assign(use, {
    close: async () => {
      const it = await started?.catch(() => undefined);
      started = undefined;
      await it?.close();
    },
  });
}

/**
 * One page of a browser, with the actions the tests use, the same on every browser.
 * @typedef {object} Tab
 * @property {string[]} errors console errors and uncaught exceptions of the page, as text
 * @property {(url: string) => Promise<void>} goto
 * @property {() => Promise<void>} reload
 * @property {<R, A = undefined>(fn: (arg: A) => R | Promise<R>, arg?: A) => Promise<R>} evaluate runs `fn` in the page (serialised: it may only use what the page has) and resolves with its (JSON-like) result
 * @property {<A = undefined>(fn: (arg: A) => unknown, arg?: A, timeoutMs?: number) => Promise<void>} waitFor until `fn` returns something truthy in the page
 * @property {(selector: string, options?: { nth?: number, shift?: boolean }) => Promise<void>} click a real mouse click on the nth match, with Shift held if asked
 * @property {(selector: string, key: string) => Promise<void>} press focuses the element and presses a key
 * @property {(selector: string, path: string | string[]) => Promise<void>} setFiles picks a file (or several) in an `<input type="file">`
 * @property {(width: number, height: number) => Promise<void>} viewport
 * @property {(path: string) => Promise<void>} screenshot of the whole page, as PNG
 * @property {(start: () => Promise<unknown>) => Promise<{ name: string, bytes: Buffer }>} download the file that `start` makes the page download
 * @property {() => Promise<void>} close
 */

/**
 * @typedef {object} Browser
 * @property {BrowserName} name
 * @property {() => Promise<Tab>} newTab
 * @property {() => Promise<void>} close
 */

/** @typedef {'chromium' | 'firefox' | 'webkit'} BrowserName */

/**
 * @typedef {object} LaunchOptions
 * @property {{ width: number, height: number }} [viewport] of every new tab (default 1280 × 720)
 * @property {boolean} [sharedArrayBuffer] WebKit only: turn on JavaScriptCore's SharedArrayBuffer, which WebKitGTK
 *   leaves off even in cross-origin isolated pages (JSC_useSharedArrayBuffer=1)
 */

/**
 * `tab.waitFor`, and when it times out, an error that also says what the page showed then (`explain`'s answer, or
 * that the page did not answer) and the page's errors.
 * @template A
 * @param {Tab} tab
 * @param {(arg: A) => unknown} fn
 * @param {A | undefined} arg
 * @param {number | undefined} timeout
 * @param {() => Promise<unknown>} explain
 * @returns {Promise<void>}
 */
export async function waitOrExplain(tab, fn, arg, timeout, explain) {
  try {
    await tab.waitFor(fn, arg, timeout);
  } catch (e) {
    const state = await explain().catch((err) => `(the page did not answer: ${err.message})`);
    throw new Error(`${/** @type {Error} */ (e).message}; the page then: ${JSON.stringify(state)}; page errors: ${JSON.stringify(tab.errors)}`);
  }
}

/**
 * The fraction of a canvas's pixels that are drawn (not transparent, not near black), read in the page.
 * @param {Tab} tab
 * @param {string} id the canvas's id
 * @returns {Promise<number>}
 */
export function inked(tab, id) {
  return tab.evaluate((id) => {
    const c = /** @type {HTMLCanvasElement} */ (document.getElementById(id));
    const d = /** @type {CanvasRenderingContext2D} */ (c.getContext('2d')).getImageData(0, 0, c.width, c.height).data;
    let n = 0;
    for (let i = 0; i < d.length; i += 4) if ((d[i] ?? 0) + (d[i + 1] ?? 0) + (d[i + 2] ?? 0) > 60 && (d[i + 3] ?? 0) > 0) n++;
    return n / (d.length / 4);
  }, id);
}

export const CHROMIUM = '/usr/bin/chromium';
export const FIREFOX = '/usr/bin/firefox-esr';
const CHROMIUM_ARGS = ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'];
const INSTALL = {
  chromium: 'apt-get install -y chromium',
  firefox: 'apt-get install -y --no-install-recommends firefox-esr',
  webkit: 'apt-get install -y --no-install-recommends webkit2gtk-driver xvfb',
};
const STARTS = 3;
const EVALUATE_MS = 120_000;

/**
 * Starts a browser (headless; WebKit on a virtual X display). Fails, naming what to install, if it is missing.
 * @param {BrowserName} name
 * @param {LaunchOptions} [options]
 * @returns {Promise<Browser>}
 */
export async function launch(name, options = {}) {
  const start = { chromium: launchChromium, firefox: launchFirefox, webkit: launchWebKit }[name];
  if (!start) throw new Error(`unknown browser ${JSON.stringify(name)}; expected chromium, firefox or webkit`);
  for (let attempt = 1; ; attempt++) {
    try {
      return await start(options);
    } catch (e) {
      if (attempt >= STARTS || /is missing/.test(String(e))) throw e;
      process.stderr.write(`${name} did not start (attempt ${attempt} of ${STARTS}): ${String(e).split('\n')[0]}\n`);
    }
  }
}

/**
 * @param {string} path
 * @param {string} what
 * @param {string} install
 */
function need(path, what, install) {
  if (!existsSync(path)) throw new Error(`${what} (${path}) is missing: ${install}`);
  return path;
}

/** @param {LaunchOptions} options @returns {Promise<Browser>} */
async function launchChromium({ viewport = { width: 1280, height: 720 } }) {
  need(CHROMIUM, 'Chromium', INSTALL.chromium);
  const { chromium } = await import('playwright-core');
  const profile = mkdtempSync(join(tmpdir(), 'vae-chromium-'));
  const context = await chromium.launchPersistentContext(profile, {
    executablePath: CHROMIUM, headless: true, acceptDownloads: true, viewport, args: CHROMIUM_ARGS,
  }).catch((e) => { rmSync(profile, { recursive: true, force: true }); throw e; });
  return {
    name: 'chromium',
    newTab: async () => {
      const page = await context.newPage();
      /** @type {string[]} */
      const errors = [];
      page.on('console', (m) => { if (m.type() === 'error') errors.push(m.text()); });
      page.on('pageerror', (e) => errors.push(String(e)));
      return {
        errors,
        goto: async (url) => { await page.goto(url); },
        reload: async () => { await page.reload(); },
        evaluate: (fn, arg) => /** @type {Promise<any>} */ (page.evaluate(/** @type {any} */ (fn), arg)),
        waitFor: async (fn, arg, timeout = 30_000) => { await page.waitForFunction(/** @type {any} */ (fn), arg, { timeout }); },
        click: async (selector, { nth = 0, shift = false } = {}) => {
          await page.locator(selector).nth(nth).click(shift ? { modifiers: ['Shift'] } : {});
        },
        press: async (selector, key) => {
          await page.locator(selector).focus();
          await page.keyboard.press(key);
        },
        setFiles: (selector, path) => page.locator(selector).setInputFiles(path),
        viewport: (width, height) => page.setViewportSize({ width, height }),
        screenshot: async (path) => { await page.screenshot({ path, fullPage: true }); },
        download: async (start) => {
          const [d] = await Promise.all([page.waitForEvent('download'), start()]);
          const path = await d.path();
          return { name: d.suggestedFilename(), bytes: readFileSync(path) };
        },
        close: () => page.close(),
      };
    },
    close: async () => {
      await context.close();
      rmSync(profile, { recursive: true, force: true });
    },
  };
}

/** @param {LaunchOptions} options @returns {Promise<Browser>} */
async function launchFirefox({ viewport = { width: 1280, height: 720 } }) {
  need(FIREFOX, 'Firefox', INSTALL.firefox);
  const { default: puppeteer } = await import('puppeteer-core');
  const browser = await puppeteer.launch({
    browser: 'firefox', executablePath: FIREFOX, headless: true, defaultViewport: viewport, protocolTimeout: EVALUATE_MS,
    // Otherwise a download opens the downloads panel, which takes the focus from the page: keys still reach it, but
    // Enter no longer activates a focused button.
    extraPrefsFirefox: { 'browser.download.alwaysOpenPanel': false },
  });
  const downloads = mkdtempSync(join(tmpdir(), 'vae-firefox-downloads-'));
  try {
    // Downloads are allowed per user context in WebDriver BiDi; IndexedDB lives as long as the context.
    const context = await browser.createBrowserContext({ downloadBehavior: { policy: 'allow', downloadPath: downloads } });
    return {
      name: 'firefox',
      newTab: async () => {
        const page = await context.newPage();
        await page.setViewport(viewport);
        /** @type {string[]} */
        const errors = [];
        page.on('console', (m) => { if (m.type() === 'error') errors.push(m.text()); });
        page.on('pageerror', (e) => errors.push(String(e)));
        /** @param {string} selector @param {number} nth */
        const nthMatch = async (selector, nth) => {
          await page.waitForFunction((s, n) => document.querySelectorAll(s).length > n, { timeout: 30_000 }, selector, nth);
          const el = (await page.$$(selector))[nth];
          if (!el) throw new Error(`no element ${nth} for ${selector}`);
          return el;
        };
        return {
          errors,
          goto: async (url) => { await page.goto(url); },
          reload: async () => { await page.reload(); },
          evaluate: (fn, arg) => /** @type {Promise<any>} */ (page.evaluate(/** @type {any} */ (fn), arg)),
          waitFor: async (fn, arg, timeout = 30_000) => { await page.waitForFunction(/** @type {any} */ (fn), { timeout }, arg); },
          click: async (selector, { nth = 0, shift = false } = {}) => {
            const el = await nthMatch(selector, nth);
            if (shift) await page.keyboard.down('Shift');
            try {
              await el.click();
            } finally {
              if (shift) await page.keyboard.up('Shift');
            }
          },
          press: async (selector, key) => {
            await nthMatch(selector, 0);
            await page.focus(selector);
            await page.keyboard.press(/** @type {import('puppeteer-core').KeyInput} */ (key));
          },
          setFiles: async (selector, path) => {
            const el = /** @type {import('puppeteer-core').ElementHandle<HTMLInputElement>} */ (await nthMatch(selector, 0));
            await el.uploadFile(...(Array.isArray(path) ? path : [path]));
          },
          viewport: (width, height) => page.setViewport({ width, height }),
          screenshot: async (path) => { await page.screenshot({ path: /** @type {`${string}.png`} */ (path), fullPage: true }); },
          download: async (start) => {
            const before = new Set(readdirSync(downloads));
            await start();
            // Firefox writes `name.part`, then renames it to the suggested name when done.
            for (let waited = 0; waited < 30_000; waited += 100) {
              const files = readdirSync(downloads);
              const name = files.find((f) => !before.has(f) && !f.endsWith('.part'));
              if (name && !files.some((f) => f.endsWith('.part'))) {
                return { name, bytes: readFileSync(join(downloads, name)) };
              }
              await new Promise((r) => setTimeout(r, 100));
            }
            throw new Error(`no download finished in ${downloads} within 30 s`);
          },
          close: () => page.close(),
        };
      },
      close: async () => {
        await browser.close();
        rmSync(downloads, { recursive: true, force: true });
      },
    };
  } catch (e) {
    await browser.close();
    rmSync(downloads, { recursive: true, force: true });
    throw e;
  }
}

/** Children to kill if this process exits without closing them (by process group: they are group leaders). */
const children = new Set();
process.once('exit', () => {
  for (const c of children) {
    try { process.kill(-c.pid, 'SIGKILL'); } catch { /* gone already */ }
  }
});

/**
 * Starts a command in its own process group and tracks it.
 * @param {string} command
 * @param {string[]} args
 * @param {import('node:child_process').SpawnOptions} options
 */
function start(command, args, options) {
  const child = spawn(command, args, { ...options, detached: true });
  children.add(child);
  child.once('exit', () => children.delete(child));
  return child;
}

/**
 * Ends a started process group: SIGTERM, then SIGKILL after a grace period; resolves when the leader has exited.
 * @param {import('node:child_process').ChildProcess} child
 */
async function stop(child) {
  if (child.exitCode !== null || child.signalCode !== null || child.pid === undefined) return;
  const exited = new Promise((resolve) => child.once('exit', resolve));
  const pid = child.pid;
  try { process.kill(-pid, 'SIGTERM'); } catch { return; }
  const timer = setTimeout(() => { try { process.kill(-pid, 'SIGKILL'); } catch { /* gone */ } }, 3_000);
  await exited;
  clearTimeout(timer);
  children.delete(child);
}

/** A TCP port nobody listens on now. */
async function freePort() {
  const s = createNetServer();
  await new Promise((resolve) => s.listen(0, '127.0.0.1', () => resolve(undefined)));
  const { port } = /** @type {import('node:net').AddressInfo} */ (s.address());
  await new Promise((resolve) => s.close(resolve));
  return port;
}

/** WebKitGTK's MiniBrowser, in the multiarch library folder. */
function miniBrowser() {
  const found = readdirSync('/usr/lib').map((d) => join('/usr/lib', d, 'webkit2gtk-4.1/MiniBrowser')).find((p) => existsSync(p));
  return need(found ?? '/usr/lib/<multiarch>/webkit2gtk-4.1/MiniBrowser', 'WebKitGTK MiniBrowser', INSTALL.webkit);
}

/**
 * One W3C WebDriver (classic, HTTP) command; resolves with its `value`.
 * @param {string} url the driver's address
 * @param {'GET' | 'POST' | 'DELETE'} method
 * @param {string} path
 * @param {unknown} [body]
 * @param {number} [timeoutMs]
 * @returns {Promise<any>}
 */
async function webdriver(url, method, path, body, timeoutMs = EVALUATE_MS + 10_000) {
  const res = await fetch(url + path, {
    method, headers: { 'content-type': 'application/json' }, body: body === undefined ? undefined : JSON.stringify(body),
    signal: AbortSignal.timeout(timeoutMs),
  });
  const json = /** @type {{ value: any }} */ (await res.json());
  if (!res.ok) throw new Error(`WebKitWebDriver ${method} ${path}: ${json.value?.error ?? res.status}: ${json.value?.message ?? ''}`);
  return json.value;
}

/** @param {LaunchOptions} options @returns {Promise<Browser>} */
async function launchWebKit({ viewport = { width: 1280, height: 720 }, sharedArrayBuffer = false }) {
  need('/usr/bin/Xvfb', 'Xvfb', INSTALL.webkit);
  need('/usr/bin/WebKitWebDriver', 'WebKitWebDriver', INSTALL.webkit);
  const binary = miniBrowser();
  /** @type {import('node:child_process').ChildProcess[]} */
  const started = [];
  const stopAll = async () => { for (const c of started.reverse()) await stop(c); };
  try {
    // Xvfb picks a free display and writes its number to fd 3.
    const xvfb = start('Xvfb', ['-displayfd', '3', '-nolisten', 'tcp', '-screen', '0', `${viewport.width}x${viewport.height}x24`], { stdio: ['ignore', 'ignore', 'pipe', 'pipe'] });
    started.push(xvfb);
    const display = await new Promise((resolve, reject) => {
      let text = '';
      const timer = setTimeout(() => reject(new Error('Xvfb did not report a display within 10 s')), 10_000);
      xvfb.stdio[3]?.on('data', (d) => {
        text += d;
        if (text.includes('\n')) { clearTimeout(timer); resolve(text.trim()); }
      });
      xvfb.once('exit', (code) => { clearTimeout(timer); reject(new Error(`Xvfb exited with code ${code}`)); });
    });
    const port = await freePort();
    const env = { ...process.env, DISPLAY: `:${display}`, ...(sharedArrayBuffer ? { JSC_useSharedArrayBuffer: '1' } : {}) };
    const driver = start('WebKitWebDriver', [`--port=${port}`], { stdio: ['ignore', 'ignore', 'pipe'], env });
    started.push(driver);
    const url = `http://127.0.0.1:${port}`;
    for (let waited = 0; ; waited += 100) {
      const ready = await webdriver(url, 'GET', '/status', undefined, 2_000).then((v) => v.ready, () => false);
      if (ready) break;
      if (waited > 10_000 || driver.exitCode !== null) throw new Error('WebKitWebDriver did not become ready within 10 s');
      await new Promise((r) => setTimeout(r, 100));
    }
    const session = await webdriver(url, 'POST', '/session', {
      capabilities: { alwaysMatch: { 'webkitgtk:browserOptions': { binary, args: ['--automation'] } } },
    }, 30_000);
    const at = `/session/${session.sessionId}`;
    await webdriver(url, 'POST', `${at}/timeouts`, { script: EVALUATE_MS, pageLoad: 60_000 });
    /** @type {<R, A = undefined>(fn: (arg: A) => R | Promise<R>, arg?: A) => Promise<R>} */
    const evaluate = async (fn, arg) => {
      const r = await webdriver(url, 'POST', `${at}/execute/async`, {
        script: `const done = arguments[1];
          Promise.resolve(arguments[0]).then(${fn}).then((value) => done({ value }), (e) => done({ error: String((e && e.stack) || e) }));`,
        args: [arg ?? null],
      });
      if (r.error !== undefined) throw new Error(`in WebKit: ${r.error}`);
      return r.value;
    };
    /** @param {string} what */
    const unsupported = (what) => () => Promise.reject(new Error(`WebKit: ${what} is not implemented over WebKitWebDriver here`));
    let tabs = 0;
    return {
      name: 'webkit',
      newTab: async () => {
        if (tabs++ > 0) throw new Error('WebKit: one tab per browser here');
        return {
          errors: [],
          goto: async (to) => { await webdriver(url, 'POST', `${at}/url`, { url: to }); },
          reload: async () => { await webdriver(url, 'POST', `${at}/refresh`, {}); },
          evaluate,
          waitFor: async (fn, arg, timeout = 30_000) => {
            for (let waited = 0; !(await evaluate(fn, arg)); waited += 50) {
              if (waited > timeout) throw new Error(`WebKit: waited ${timeout} ms for ${fn}`);
              await new Promise((r) => setTimeout(r, 50));
            }
          },
          click: unsupported('click'),
          press: unsupported('press'),
          setFiles: unsupported('setFiles'),
          viewport: unsupported('viewport'),
          screenshot: unsupported('screenshot'),
          download: unsupported('download'),
          close: async () => {},
        };
      },
      close: async () => {
        await webdriver(url, 'DELETE', at, undefined, 10_000).catch(() => {});
        await stopAll();
      },
    };
  } catch (e) {
    await stopAll();
    throw e;
  }
}

/**
 * @typedef {'node' | 'bun' | 'deno'} RuntimeName
 */

const BIN = join(root, 'tests/node_modules/.bin');

/**
 * The command that runs a script file in a runtime: Node (this one), Bun (JavaScriptCore) or Deno (V8), the last
 * two from their npm packages (in tests/package.json).
 * @param {RuntimeName} name
 * @returns {string[]}
 */
export function runtimeCommand(name) {
  if (name === 'node') return [process.execPath];
  const install = 'node scripts/deps.mjs tests (the npm packages bun and deno are in tests/package.json)';
  if (name === 'bun') return [need(join(BIN, 'bun'), 'Bun', install)];
  if (name === 'deno') return [need(join(BIN, 'deno'), 'Deno', install), 'run', '--allow-read', '--allow-env', '--allow-sys'];
  throw new Error(`unknown runtime ${JSON.stringify(name)}; expected node, bun or deno`);
}

/**
 * Runs `script` with `args` in a runtime and resolves with the JSON of the last line it printed. Rejects with its
 * output if it fails, and kills it after `timeoutMs`.
 * @param {RuntimeName} name
 * @param {string} script
 * @param {string[]} args
 * @param {{ timeoutMs?: number }} [options]
 * @returns {Promise<any>}
 */
export function runScript(name, script, args, { timeoutMs = 120_000 } = {}) {
  const [command, ...pre] = runtimeCommand(name);
  return new Promise((resolve, reject) => {
    const child = start(/** @type {string} */ (command), [...pre, script, ...args], { stdio: ['ignore', 'pipe', 'pipe'], cwd: root });
    let out = '';
    let err = '';
    child.stdout?.on('data', (d) => { out += d; });
    child.stderr?.on('data', (d) => { err += d; });
    let timedOut = false;
    const timer = setTimeout(() => { timedOut = true; void stop(child); }, timeoutMs);
    child.once('error', reject);
    child.once('close', (code, signal) => {
      clearTimeout(timer);
      const last = out.trim().split('\n').pop() ?? '';
      if (code !== 0) {
        reject(new Error(`${name} ${script} ${args.join(' ')} ${signal ? `was killed (${signal}${timedOut ? `: it ran past its ${timeoutMs} ms` : ''})` : `exited with code ${code}`}:\n${err}${out}`));
        return;
      }
      try {
        resolve(JSON.parse(last));
      } catch {
        reject(new Error(`${name} ${script}: expected a JSON line, got:\n${out}${err}`));
      }
    });
  });
}
