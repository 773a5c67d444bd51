import { defineConfig } from 'vite';
import react from '@vitejs/plugin-react';

// The server serves dist/ from its own origin: relative asset paths, no dev-only features in the build.
export default defineConfig({
  root: import.meta.dirname,
  base: '/',
  plugins: [react()],
  build: { outDir: 'dist', assetsDir: '_app', emptyOutDir: true, sourcemap: true, target: 'es2022' },
});
