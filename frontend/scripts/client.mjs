// Regenerates the typed API client from `storefleet openapi`, or checks that
// the committed client matches what the current API would generate.
//
//   node scripts/client.mjs generate   write openapi.json and src/client
//   node scripts/client.mjs check      exit 1 when either differs
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const frontend = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const repo = resolve(frontend, '..');
const storefleet = process.env.STOREFLEET_BIN ?? join(repo, '.venv', 'bin', 'storefleet');

function openapiDocument() {
  const raw = execFileSync(storefleet, ['openapi'], { cwd: repo, encoding: 'utf8' });
  return JSON.stringify(JSON.parse(raw), null, 2) + '\n';
}

function generate(input, output) {
  const bin = join(frontend, 'node_modules', '.bin', 'openapi-ts');
  execFileSync(bin, ['--file', join(frontend, 'openapi-ts.config.ts')], {
    cwd: frontend,
    stdio: ['ignore', 'ignore', 'inherit'],
    env: { ...process.env, OPENAPI_INPUT: input, OPENAPI_OUTPUT: output },
  });
}

function files(dir) {
  const out = new Map();
  const walk = (d) => {
    for (const name of readdirSync(d)) {
      const p = join(d, name);
      if (statSync(p).isDirectory()) walk(p);
      else out.set(relative(dir, p), readFileSync(p, 'utf8'));
    }
  };
  walk(dir);
  return out;
}

const mode = process.argv[2];
if (mode === 'generate') {
  const doc = openapiDocument();
  writeFileSync(join(frontend, 'openapi.json'), doc);
  rmSync(join(frontend, 'src', 'client'), { recursive: true, force: true });
  generate(join(frontend, 'openapi.json'), join(frontend, 'src', 'client'));
  console.log('client: regenerated openapi.json and src/client');
} else if (mode === 'check') {
  const tmp = mkdtempSync(join(tmpdir(), 'storefleet-client-'));
  try {
    const doc = openapiDocument();
    writeFileSync(join(tmp, 'openapi.json'), doc);
    generate(join(tmp, 'openapi.json'), join(tmp, 'client'));
    const want = files(join(tmp, 'client'));
    const have = files(join(frontend, 'src', 'client'));
    const stale = [];
    if (readFileSync(join(frontend, 'openapi.json'), 'utf8') !== doc) stale.push('openapi.json');
    for (const [name, text] of want) if (have.get(name) !== text) stale.push(`src/client/${name}`);
    for (const name of have.keys()) if (!want.has(name)) stale.push(`src/client/${name} (extra)`);
    if (stale.length) {
      console.error(`client: out of date with the API: ${stale.join(', ')}`);
      console.error('client: run `make frontend-client` and commit the result');
      process.exit(1);
    }
    console.log('client: src/client is up to date with the API');
  } finally {
    rmSync(tmp, { recursive: true, force: true });
  }
} else {
  console.error('usage: node scripts/client.mjs generate|check');
  process.exit(2);
}
