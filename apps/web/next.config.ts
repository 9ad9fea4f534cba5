import type { NextConfig } from "next";

const nextConfig: NextConfig = {
  // Internal packages ship TypeScript sources; Next compiles them with the app.
  transpilePackages: ["@gozon/api", "@gozon/core", "@gozon/db"],
  poweredByHeader: false,
  reactStrictMode: true,
};

export default nextConfig;
