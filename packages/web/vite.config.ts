import react from '@vitejs/plugin-react';
import { defineConfig } from 'vite';
import { precompressAndBudget } from './scripts/build-plugin.js';

export default defineConfig({
  plugins: [react(), precompressAndBudget()],
  build: {
    outDir: 'dist',
    emptyOutDir: true,
    // Read by the budget (the initial JavaScript); not served (chatd serves only assets/ and index.html).
    manifest: true,
    // Every asset a file of its own: no data: URLs inlined into scripts or styles.
    assetsInlineLimit: 0,
  },
});
