"use client";
// The typed tRPC client of the browser: queries and mutations over HTTP, subscriptions over WebSocket.
// Auth rides on httpOnly cookies; an expired access token is refreshed once, transparently.
import {
  createTRPCClient,
  createWSClient,
  httpLink,
  splitLink,
  TRPCClientError,
  wsLink,
  type TRPCLink,
} from "@trpc/client";
import type { AppRouter } from "@gozon/api/root";
import type { SessionUser } from "./session.ts";

export type { AppRouter };
export type RouterClient = ReturnType<typeof createTRPCClient<AppRouter>>;

/** A client without the refresh retry, to call auth.refresh itself. */
const plain = createTRPCClient<AppRouter>({ links: [httpLink({ url: "/api/trpc" })] });

/** What `refreshSession` needs of the page: which user it shows, and how it follows a change. */
export type SessionWatch = {
  /** The user the page shows, when it knows one. */
  userId(): string | undefined;
  /** The session is gone for good (the refresh token was refused): the page signs the user out. */
  ended(): void;
  /** The browser's cookies now sign in another user (another tab signed in as them): the page is theirs. */
  switched(user: SessionUser): void;
};
let watch: SessionWatch | null = null;
export function watchSession(handlers: SessionWatch | null) {
  watch = handlers;
}

/**
 * How long a page whose refresh was refused waits for another tab's new session before it signs out: a
 * password change in another tab revokes this tab's session (its socket is closed at once) a moment
 * before that tab's answer sets the new session's cookies, which this tab shares.
 */
const NEW_SESSION_GRACE_MS = 1_500;

const signedInAs = () =>
  plain.auth.me.query().then(
    ({ user }) => user,
    () => null,
  );

/** Counts this page's own sign-ins and sign-outs (see `refreshSession`). */
let sessionChanges = 0;
/** Called when this page signs in or out: what it then knows of its session is newer than any check. */
export function noteSessionChange() {
  sessionChanges++;
}

let refreshing: Promise<boolean> | null = null;
/**
 * One refresh at a time, however many requests failed together; true when the call that failed may be
 * sent again. The cookies are the browser's, shared by its tabs, so what they sign in after a refresh is
 * not always this page's user:
 * - a refused refresh ends this tab's session, but not always the browser's: another tab may have signed
 *   in again or changed the password. The page asks whether the cookies sign it in, now and once more
 *   after the grace, before it signs the user out;
 * - the user they sign in (a refresh's own, or the answer to that question) may be another one, signed in
 *   from another tab. The page then becomes theirs, and the call that failed is not sent again: it was
 *   made for the user the page showed.
 * A page that signed in or out itself meanwhile knows its session better, and is left as it is (a page
 * signed out at its start must not be signed out again once its user has signed in).
 */
export function refreshSession(): Promise<boolean> {
  refreshing ??= (async () => {
    const changesBefore = sessionChanges;
    const user = await plain.auth.refresh.mutate({}).then(
      (session) => session.user,
      async () =>
        (await signedInAs()) ??
        (await new Promise((resolve) => setTimeout(resolve, NEW_SESSION_GRACE_MS)).then(signedInAs)),
    );
    if (sessionChanges !== changesBefore) return user !== null;
    if (user === null) {
      watch?.ended();
      return false;
    }
    const shown = watch?.userId();
    if (shown !== undefined && shown !== user.id) {
      watch?.switched(user);
      return false;
    }
    return true;
  })().finally(() => (refreshing = null));
  return refreshing;
}

/**
 * Another tab of this browser signed in or out (session.ts tells the others): whom do the cookies, which
 * this page shares, sign in now? The page follows: to the sign-in page, or to the other user's view. A
 * page with no socket open would otherwise notice only at its next 401, and until then show one user
 * while its calls act as the other. Only a definite answer counts: a read the network failed changes
 * nothing, and neither does one overtaken by this page's own sign-in, sign-out or refresh.
 */
export async function followSessionElsewhere(): Promise<void> {
  const changesBefore = sessionChanges;
  let user: SessionUser | null;
  try {
    user = (await plain.auth.me.query()).user;
  } catch (error) {
    if (!isUnauthorized(error)) return;
    user = null;
  }
  if (sessionChanges !== changesBefore || refreshing) return;
  const shown = watch?.userId() ?? null;
  if (user === null && shown !== null) watch?.ended();
  else if (user !== null && user.id !== shown) watch?.switched(user);
}

/**
 * Calls whose 401 means something else than "the access token expired": bad credentials, or the refresh
 * itself failing. Every other 401 (auth.me included: a page opened after the access cookie expired)
 * is retried once after a refresh.
 */
const NO_RETRY = /\/auth\.(login|register|refresh|logout)\b/;

const retryAfterRefresh: typeof fetch = async (input, init) => {
  const response = await fetch(input, init);
  if (response.status !== 401 || NO_RETRY.test(String(input))) return response;
  return (await refreshSession()) ? fetch(input, init) : response;
};

/**
 * The server's close code for "your session's credentials no longer hold" (access token expired, or the
 * session revoked): apps/web/src/server/websocket.ts SESSION_ENDED_CLOSE_CODE.
 */
export const SESSION_ENDED_CLOSE_CODE = 4401;

export type LiveSocketOptions = {
  url: string;
  /** Renews the session cookies; false when the session is gone (then the feed gets UNAUTHORIZED). */
  refresh: () => Promise<boolean>;
  /** The WebSocket class (Node has none built in before v22). */
  WebSocket?: typeof WebSocket;
  onClose?: (code: number | undefined) => void;
};

/**
 * The subscription socket. Lazy: it opens with the first subscription, carrying the session cookie of
 * that moment. When the server ends it for an expired or revoked session, the reconnect first refreshes
 * the session, so that the new socket carries the new cookie; tRPC's client then re-sends every
 * subscription with the id of the last event it delivered, and each feed resumes where it stopped.
 */
export function createLiveSocket({ url, refresh, WebSocket, onClose }: LiveSocketOptions) {
  let refreshFirst = false;
  return createWSClient({
    url: async () => {
      if (refreshFirst) {
        refreshFirst = false;
        await refresh();
      }
      return url;
    },
    WebSocket,
    lazy: { enabled: true, closeMs: 0 },
    onClose: (cause) => {
      if (cause?.code === SESSION_ENDED_CLOSE_CODE) refreshFirst = true;
      onClose?.(cause?.code);
    },
  });
}

let wsClient: ReturnType<typeof createWSClient> | null = null;

function liveClient() {
  if (!wsClient) {
    const url = `${window.location.protocol === "https:" ? "wss" : "ws"}://${window.location.host}/api/trpc-ws`;
    wsClient = createLiveSocket({ url, refresh: refreshSession });
  }
  return wsClient;
}

/** After login or logout the socket must reconnect to be the new user's. */
export function resetLiveConnection() {
  wsClient?.close();
  wsClient = null;
}

/**
 * The browser is back online. The socket may be waiting out its reconnect backoff (up to 30 s), or be a
 * dead one that has not noticed yet: replace it now. Closing it ends its subscriptions, and every feed
 * resumes from its last position on the new socket (useOrderFeed), so nothing is missed or repeated.
 */
export function reconnectLive() {
  if (wsClient && wsClient.connectionState.get().state !== "idle") resetLiveConnection();
}

const liveLink: TRPCLink<AppRouter> = (runtime) => (ctx) =>
  wsLink<AppRouter>({ client: liveClient() })(runtime)(ctx);

export const api: RouterClient = createTRPCClient<AppRouter>({
  links: [
    splitLink({
      condition: (op) => op.type === "subscription",
      true: liveLink,
      false: httpLink({ url: "/api/trpc", fetch: retryAfterRefresh }),
    }),
  ],
});

export type ApiErrorInfo = { message: string; code?: string; fields: Record<string, string> };

const UNREACHABLE_MESSAGE = "The server could not be reached; check the connection and try again.";

/** What to show a person for a failed call: the server's message and the fields at fault. */
export function describeError(error: unknown): ApiErrorInfo {
  if (error instanceof TRPCClientError) {
    const data = error.data as { code?: string; fields?: Record<string, string> } | undefined;
    // No answer from the API itself (the network, or a proxy's page instead of ours): the browser's
    // wording ("Failed to fetch", "NetworkError when attempting to fetch resource") tells a person nothing.
    if (!data?.code) return { message: UNREACHABLE_MESSAGE, fields: {} };
    return { message: error.message, code: data.code, fields: data.fields ?? {} };
  }
  return { message: "Something went wrong; please try again", fields: {} };
}

/** A field's problem as a sentence: the server says "must be …", the page says "Email must be …". */
export function fieldMessage(label: string, problem: string | undefined): string | undefined {
  if (!problem) return undefined;
  return /^[a-z]/.test(problem) ? `${label} ${problem}` : problem;
}

export function isUnauthorized(error: unknown) {
  return describeError(error).code === "UNAUTHORIZED";
}
