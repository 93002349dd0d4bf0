/// <reference types="vitest/config" />
// `npm run dev` serves the dashboard with hot reload and forwards /api to a
// running platform (STOREFLEET_API, default http://127.0.0.1:8000).
import react from '@vitejs/plugin-react';
import { defineConfig } from 'vite';

const api = process.env.STOREFLEET_API ?? 'http://127.0.0.1:8000';

export default defineConfig({
  plugins: [react()],
  server: { proxy: { '/api': { target: api, changeOrigin: false } } },
  build: { outDir: 'dist', sourcemap: false, chunkSizeWarningLimit: 300 },
  test: {
    environment: 'jsdom',
    setupFiles: ['./src/test/setup.ts'],
    include: ['src/**/*.test.{ts,tsx}'],
    css: false,
  },
});
