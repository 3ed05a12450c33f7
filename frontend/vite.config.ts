import { defineConfig } from 'vitest/config';

// `npm run dev` proxies the API and the WebSocket to a server started with
// `cargo run -- --dev` (port 8000); `npm run build` writes dist/, which the
// server serves at `/`.
export default defineConfig({
  build: { outDir: 'dist', emptyOutDir: true, chunkSizeWarningLimit: 600 },
  server: {
    proxy: {
      '/api': 'http://127.0.0.1:8000',
      '/connection': { target: 'ws://127.0.0.1:8000', ws: true },
    },
  },
  test: { include: ['tests/unit/**/*.test.ts'], environment: 'node' },
});
