import type { Metadata, Viewport } from "next";
import type { ReactNode } from "react";
import { Header } from "../src/client/header.tsx";
import { Providers } from "../src/client/providers.tsx";
import "./globals.css";

export const metadata: Metadata = {
  title: "Gozon",
  description: "Orders and payments, settled live.",
};

export const viewport: Viewport = { width: "device-width", initialScale: 1 };

export default function RootLayout({ children }: { children: ReactNode }) {
  return (
    <html lang="en">
      <body>
        <Providers>
          <Header />
          {children}
        </Providers>
      </body>
    </html>
  );
}
