// Builds the renderer into renderer/dist. Relative asset URLs so the same build loads from
// `ftune serve` (http) and from the desktop app's own app:// protocol.
import { svelte } from "@sveltejs/vite-plugin-svelte";
import { defineConfig } from "vite";

export default defineConfig({
  root: import.meta.dirname,
  base: "./",
  plugins: [svelte({ configFile: false })],
  build: {
    outDir: "dist",
    emptyOutDir: true,
    target: "es2022",
    // One CSS file and no inline assets: the CSP allows only same-origin styles and scripts.
    assetsInlineLimit: 0,
    chunkSizeWarningLimit: 800,
  },
});
