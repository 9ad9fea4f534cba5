import type { Metadata, Viewport } from "next";
import { connection } from "next/server";
import type { ReactNode } from "react";
import { Header } from "../src/client/header.tsx";
import { Providers } from "../src/client/providers.tsx";
import "./globals.css";

export const metadata: Metadata = {
  // Each route names itself ("Orders · Gozon"); a page that does not is plain "Gozon".
  title: { default: "Gozon", template: "%s · Gozon" },
  description: "Orders and payments, settled live.",
};

export const viewport: Viewport = { width: "device-width", initialScale: 1 };

export default async function RootLayout({ children }: { children: ReactNode }) {
  // Rendered per request, never prerendered: each page gets the nonce of its own CSP (see proxy.ts).
  await connection();
  return (
    <html lang="en">
      <body>
        <Providers>
          {/* The first stop of the keyboard: past the header and its links, straight to the page. */}
          <a href="#content" className="skip-link">
            Skip to content
          </a>
          <Header />
          <div id="content" tabIndex={-1}>
            {children}
          </div>
        </Providers>
      </body>
    </html>
  );
}
