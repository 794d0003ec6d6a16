import tailwindcss from "@tailwindcss/vite";
import react from "@vitejs/plugin-react";
import { defineConfig } from "vite";

// In development the API runs on its own port; the dashboard talks to it through this proxy so
// that the session cookie stays same-origin, as it is in production.
export default defineConfig({
  plugins: [react(), tailwindcss()],
  server: {
    port: 5173,
    proxy: { "/trpc": { target: process.env.OSM_API_URL ?? "http://localhost:3000" } },
  },
  build: { chunkSizeWarningLimit: 2000 },
});
