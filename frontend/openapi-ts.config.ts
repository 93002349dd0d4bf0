// The typed API client is generated from the platform's OpenAPI document
// (written by scripts/client.mjs); never edit src/client by hand.
import { defineConfig } from '@hey-api/openapi-ts';

export default defineConfig({
  input: process.env.OPENAPI_INPUT ?? 'openapi.json',
  output: { path: process.env.OPENAPI_OUTPUT ?? 'src/client' },
  plugins: ['@hey-api/client-fetch', '@hey-api/typescript', '@hey-api/sdk'],
});
