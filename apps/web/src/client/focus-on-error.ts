"use client";
import { useEffect, type RefObject } from "react";

/**
 * After a refused submit, puts the cursor where the fix goes: the form's first field marked invalid, else
 * the `fallback` field (a refusal that names no field). Without it the focus was left on the button, or,
 * when the button had been disabled while the form was sent, on nothing: a keyboard user had to find the
 * field again from the top of the page. `refusal` is a new value for each refused submit, and nothing
 * (undefined) when the submit was not refused.
 */
export function useFocusOnError(
  form: RefObject<HTMLFormElement | null>,
  refusal: object | undefined,
  fallback: string,
) {
  useEffect(() => {
    if (!refusal || !form.current) return;
    const invalid = form.current.querySelector<HTMLElement>('[aria-invalid="true"]');
    (invalid ?? form.current.querySelector<HTMLElement>(fallback))?.focus();
  }, [form, refusal, fallback]);
}
