// Measures the production JavaScript in dist/ gzipped (level 9, as a server
// would send it) and fails when it passes the budget of 200 KB.
import { gzipSync } from 'node:zlib';
import { readFileSync, readdirSync, writeFileSync, mkdirSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const BUDGET = 200 * 1024;
const frontend = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const assets = join(frontend, 'dist', 'assets');
let raw = 0;
let gzip = 0;
const rows = [];
for (const name of readdirSync(assets).filter((f) => f.endsWith('.js') || f.endsWith('.css'))) {
  const bytes = readFileSync(join(assets, name));
  const gz = gzipSync(bytes, { level: 9 }).length;
  rows.push({ name, raw: bytes.length, gzip: gz });
  if (name.endsWith('.js')) {
    raw += bytes.length;
    gzip += gz;
  }
}
const kb = (n) => `${(n / 1024).toFixed(1)} KB`;
for (const r of rows) console.log(`bundle: ${r.name}  ${kb(r.raw)} raw, ${kb(r.gzip)} gzipped`);
console.log(`bundle: JavaScript total ${kb(raw)} raw, ${kb(gzip)} gzipped (budget ${kb(BUDGET)})`);
mkdirSync(join(frontend, 'test-artifacts'), { recursive: true });
writeFileSync(join(frontend, 'test-artifacts', 'bundle-size.json'), JSON.stringify({ jsRaw: raw, jsGzip: gzip, budget: BUDGET, files: rows }, null, 2));
if (gzip > BUDGET) {
  console.error(`bundle: over budget by ${kb(gzip - BUDGET)}`);
  process.exit(1);
}
