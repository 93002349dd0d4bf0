// Starts the real platform the way `make up` does (`storefleet up`: API,
// worker and reconciler, local driver, serving frontend/dist) in a temporary
// data directory on a free port, its stores' nginx on another free port (never
// make up's 8080: stores answer at http://<name>.localhost:<storesPort>/),
// and stops it with SIGINT like Ctrl-C.
import { spawn } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, openSync, readFileSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

export const FRONTEND = resolve(dirname(fileURLToPath(import.meta.url)), '..');
export const REPO = resolve(FRONTEND, '..');
export const ADMIN_EMAIL = 'admin@example.com';
export const ADMIN_PASSWORD = 'e2e-admin-password-123';

function freePort(wanted = 0) {
  return new Promise((ok, fail) => {
    const srv = createServer();
    srv.once('error', fail);
    srv.listen(wanted, '127.0.0.1', () => {
      const { port } = srv.address();
      srv.close(() => ok(port));
    });
  });
}

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

/**
 * `storesPort`: where the stores' nginx listens; a free port by default.
 * `preferredStoresPort`: that port when it is free at the moment (the
 * README's screenshots show make up's 8080), else a free one.
 */
export async function startPlatform({ preferredStoresPort } = {}) {
  const bin = join(REPO, '.venv', 'bin', 'storefleet');
  if (!existsSync(bin)) throw new Error(`${bin} is missing: run \`make venv\``);
  if (!existsSync(join(FRONTEND, 'dist', 'index.html'))) throw new Error('frontend/dist is missing: run `make frontend`');
  const port = await freePort();
  const storesPort = preferredStoresPort
    ? await freePort(preferredStoresPort).catch(() => freePort())
    : await freePort();
  const dataDir = mkdtempSync(join(tmpdir(), 'storefleet-e2e-'));
  const logPath = join(dataDir, 'platform.log');
  const log = openSync(logPath, 'a');
  const prefix = `e2e${process.pid}${Date.now().toString(36).slice(-4)}_`;
  // Stores run under uids of their own and must reach their sites: outside
  // the 0700 temporary directory, in a place that is removed afterwards.
  const testRoot = '/var/tmp/storefleet-tests';
  mkdirSync(testRoot, { recursive: true, mode: 0o711 });
  const sitesDir = join(testRoot, `e2e-sites-${process.pid}-${Date.now().toString(36)}`);
  const vendor = [resolve(REPO, '..', 'shared', 'vendor'), resolve(REPO, '..', '..', 'shared', 'vendor')].find((d) =>
    existsSync(join(d, 'SHA256SUMS')),
  );
  const releaseMirror = process.env.STOREFLEET_ARTIFACTS || vendor;
  // The embedded set-up of `make up`: SQLite platform DB, in-process queue.
  const env = { ...process.env };
  for (const key of ['STOREFLEET_DATABASE_URL', 'STOREFLEET_REDIS_URL', 'STOREFLEET_ENV']) delete env[key];
  const child = spawn(bin, ['up'], {
    cwd: REPO, // reads var/services.env (the stores MariaDB) like `make up`
    env: {
      ...env,
      STOREFLEET_PORT: String(port),
      STOREFLEET_STORES_HTTP_PORT: String(storesPort),
      STOREFLEET_DATA_DIR: dataDir,
      STOREFLEET_ADMIN_EMAIL: ADMIN_EMAIL,
      STOREFLEET_ADMIN_PASSWORD: ADMIN_PASSWORD,
      STOREFLEET_STORES_DB_PREFIX: prefix,
      STOREFLEET_SITES_DIR: sitesDir,
      STOREFLEET_RELEASES_DIR: join(testRoot, 'releases'),
      // Every store provisioned, as the suite's steps expect (the warm pool: tests/e2e/test_warm_pool.py).
      STOREFLEET_WARM_POOL_SIZE: '0',
      ...(releaseMirror ? { STOREFLEET_ARTIFACTS: releaseMirror } : {}),
    },
    stdio: ['ignore', log, log],
  });
  const exited = new Promise((r) => child.once('exit', (code, signal) => r({ code, signal })));
  let gone = null;
  void exited.then((e) => (gone = e));
  const baseUrl = `http://127.0.0.1:${port}`;
  const deadline = Date.now() + 90_000;
  for (;;) {
    if (gone) throw new Error(`storefleet up exited (${JSON.stringify(gone)}):\n${readFileSync(logPath, 'utf8').slice(-3000)}`);
    try {
      const res = await fetch(`${baseUrl}/readyz`);
      if (res.ok && (await fetch(`${baseUrl}/`)).ok) break;
    } catch {
      /* not listening yet */
    }
    if (Date.now() > deadline) {
      child.kill('SIGKILL');
      throw new Error(`the platform did not become ready:\n${readFileSync(logPath, 'utf8').slice(-3000)}`);
    }
    await sleep(250);
  }

  return {
    baseUrl,
    storesPort,
    logPath,
    sitesDir,
    /** Where a store of this platform answers, by name. */
    storeUrl: (name) => `http://${name}.localhost:${storesPort}/`,
    async stop() {
      if (!gone) {
        child.kill('SIGINT');
        const timer = setTimeout(() => child.kill('SIGKILL'), 20_000);
        await exited;
        clearTimeout(timer);
      }
      // The platform's log, for when a test needs explaining.
      const artifacts = join(FRONTEND, 'test-artifacts');
      mkdirSync(artifacts, { recursive: true });
      copyFileSync(logPath, join(artifacts, 'platform.log'));
      if (!process.env.KEEP_E2E_DATA) {
        rmSync(dataDir, { recursive: true, force: true });
        rmSync(sitesDir, { recursive: true, force: true });
      }
    },
  };
}

/** A small JSON client for setting up data through the API. */
export function api(baseUrl) {
  const call = async (method, path, { token, body } = {}) => {
    const res = await fetch(baseUrl + path, {
      method,
      headers: { ...(body ? { 'content-type': 'application/json' } : {}), ...(token ? { authorization: `Bearer ${token}` } : {}) },
      body: body ? JSON.stringify(body) : undefined,
    });
    const text = await res.text();
    const data = text ? JSON.parse(text) : null;
    if (!res.ok) throw new Error(`${method} ${path} → ${res.status}: ${text}`);
    return data;
  };
  return {
    call,
    login: async (email, password) => (await call('POST', '/api/auth/login', { body: { email, password } })).access_token,
  };
}
