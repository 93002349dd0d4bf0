// Copies Swagger UI (the npm package swagger-ui-dist, pinned in
// package-lock.json) into dist/api-docs/, where the API's documentation page
// loads it from: the page works without the internet and under a CSP that
// allows only the platform's own origin.
import { copyFileSync, mkdirSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
const source = dirname(createRequire(import.meta.url).resolve('swagger-ui-dist/package.json'));
const target = resolve(here, '..', 'dist', 'api-docs');
mkdirSync(target, { recursive: true });
for (const name of ['swagger-ui-bundle.js', 'swagger-ui.css']) copyFileSync(join(source, name), join(target, name));
console.log(`swagger-ui: ${target}`);
