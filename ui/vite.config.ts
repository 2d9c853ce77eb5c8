/// <reference types="vitest/config" />
import { defineConfig, loadEnv } from 'vite';
import react from '@vitejs/plugin-react';

// The built app is embedded into the console binary and served from the
// root of the console's origin, so every asset URL is absolute from '/'.
// Nothing is loaded from outside the bundle (air-gapped installs), and no
// asset is inlined as a data: URI (keeps a strict CSP possible).
//
// For local development against a running console:
//   OUTPOST_CONSOLE_URL=https://127.0.0.1:8800 npm run dev
export default defineConfig(({ mode }) => {
  const consoleUrl = loadEnv(mode, '.', 'OUTPOST_').OUTPOST_CONSOLE_URL;
  return {
    base: '/',
    plugins: [react()],
    build: {
      outDir: 'dist',
      assetsDir: 'assets',
      assetsInlineLimit: 0,
      emptyOutDir: true,
      sourcemap: false,
      target: 'es2022',
    },
    server: consoleUrl
      ? { proxy: { '/api': { target: consoleUrl, changeOrigin: true, secure: false } } }
      : undefined,
    test: {
      environment: 'jsdom',
      include: ['src/**/*.test.{ts,tsx}'],
      setupFiles: ['src/test/setup.ts'],
      restoreMocks: true,
      unstubGlobals: true,
    },
  };
});
