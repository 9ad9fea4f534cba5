/**
 * What a form says while its submit waits for the network: TanStack Query pauses a mutation while the
 * browser is offline and sends it once the browser is back online, so the form would otherwise just say
 * "Placing…" with no end in sight.
 */
export const offlineNotice = (what: string) => `You are offline: ${what} as soon as the connection is back.`;
