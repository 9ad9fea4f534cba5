import { useState } from "react";

/**
 * The Idempotency-Keys of a form's submits. The server answers the same key with the same request with
 * the first result, so a key must outlive a failed attempt: after a response lost on the way back (the
 * order or top-up was made all the same) the person presses the button again, and that must not make a
 * second one. So each content keeps its key until something goes through, even when the person tried
 * other values in between; after a success the same content is a new request (a second order on purpose).
 */
export class SubmitKeys {
  private readonly keys = new Map<string, string>();

  constructor(private readonly newKey: () => string = () => crypto.randomUUID()) {}

  /** The key to send `content` with. */
  keyFor(content: unknown): string {
    const text = JSON.stringify(content);
    let key = this.keys.get(text);
    if (key === undefined) {
      key = this.newKey();
      this.keys.set(text, key);
    }
    return key;
  }

  /** A submit went through: whatever is sent next is a new request. */
  succeeded() {
    this.keys.clear();
  }
}

/** One SubmitKeys for the life of a form. */
export function useSubmitKeys() {
  const [keys] = useState(() => new SubmitKeys());
  return keys;
}
