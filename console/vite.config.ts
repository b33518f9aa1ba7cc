/**
 * The console's build: static files in dist/, served by the apex-dashboard image (nginx, which
 * proxies /v1 to apex-api) and by `npm start` (same origin as the API). `npm run dev -w console`
 * proxies /v1 to a local runtime (APEX_API_URL, default http://localhost:8080).
 */
import react from "@vitejs/plugin-react";
import { defineConfig } from "vite";

const apiUrl = process.env.APEX_API_URL ?? "http://localhost:8080";

export default defineConfig({
  plugins: [react()],
  base: "/",
  build: { outDir: "dist", emptyOutDir: true, sourcemap: true, chunkSizeWarningLimit: 1500 },
  server: { port: 5173, proxy: { "/v1": { target: apiUrl, changeOrigin: false } } },
});
