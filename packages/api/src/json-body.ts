// What JSON.parse hides about a valid JSON body: it rounds a number written with a fraction or an
// exponent to the nearest double without a word (999999999.99999999999 becomes 1000000000, an amount
// nobody wrote), and of a key given twice in one object it keeps the last. Both would reach the schemas
// as ordinary input, so the body's text is read for them first. Written by hand: no maintained JSON
// library reports both with the key at fault, and the scan is a few dozen lines over a 64 KB body at most.
import type { FieldErrors } from "./errors.ts";

export const NOT_AN_INTEGER = "must be an integer, written without a decimal point or exponent";
export const GIVEN_TWICE = "is given more than once";
/** No body of this API nests deeper; a deeper one is refused as a whole, before any path is built. */
export const MAX_DEPTH = 16;
export const TOO_DEEP = `must not nest deeper than ${MAX_DEPTH} levels`;
/** Enough to show what is wrong: the scan stops there, so a body of nothing but faults costs no more. */
const MAX_PROBLEMS = 10;

type Frame =
  | { kind: "object"; keys: Set<string>; key: string | null; expectKey: boolean }
  | { kind: "array"; index: number };

/**
 * The fields at fault in `text` (a JSON text), named by their path ("amount", "items.0.price"), at most
 * ten; undefined when there are none. It runs before authentication, on any body up to 64 KB: it stops
 * at a nesting deeper than MAX_DEPTH, so a path costs at most that many steps. Text that is not valid
 * JSON yields what was found before the fault.
 */
export function hiddenJsonProblems(text: string): FieldErrors | undefined {
  const problems: FieldErrors = {};
  const stack: Frame[] = [];
  const path = () =>
    stack.map((frame) => (frame.kind === "object" ? (frame.key ?? "") : String(frame.index))).join(".") ||
    "body";
  let found = 0;
  const problem = (field: string, what: string) => {
    if (problems[field] !== undefined) return;
    problems[field] = what;
    found++;
  };
  let i = 0;
  while (i < text.length && found < MAX_PROBLEMS) {
    const char = text[i]!;
    const top = stack.at(-1);
    if (char === '"') {
      let end = i + 1;
      while (end < text.length && text[end] !== '"') end += text[end] === "\\" ? 2 : 1;
      if (top?.kind === "object" && top.expectKey) {
        let key: string;
        try {
          key = JSON.parse(text.slice(i, end + 1)) as string;
        } catch {
          break;
        }
        top.key = key;
        top.expectKey = false;
        if (top.keys.has(key)) problem(path(), GIVEN_TWICE);
        top.keys.add(key);
      }
      i = end + 1;
    } else if (char === "-" || (char >= "0" && char <= "9")) {
      let end = i + 1;
      while (end < text.length && /[0-9eE.+-]/.test(text[end]!)) end++;
      if (/[.eE]/.test(text.slice(i, end))) problem(path(), NOT_AN_INTEGER);
      i = end;
    } else {
      if ((char === "{" || char === "[") && stack.length >= MAX_DEPTH) return { body: TOO_DEEP };
      if (char === "{") stack.push({ kind: "object", keys: new Set(), key: null, expectKey: true });
      else if (char === "[") stack.push({ kind: "array", index: 0 });
      else if (char === "}" || char === "]") stack.pop();
      else if (char === "," && top?.kind === "object") top.expectKey = true;
      else if (char === "," && top?.kind === "array") top.index++;
      i++;
    }
  }
  return Object.keys(problems).length > 0 ? problems : undefined;
}
