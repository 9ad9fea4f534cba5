// Imported first by every module whose schemas the web app also runs in the browser. There the page's
// CSP has no 'unsafe-eval', and zod's probe for its compiled fast path (`new Function`, made when the
// first object schema is built) would be refused and reported as a violation: switch the probe off.
import { z } from "zod";

if ("window" in globalThis) z.config({ jitless: true });
