/**
 * One pass over a JSON text before it is parsed: how deep its arrays and objects nest, and whether any string
 * holds a NUL character (`\u0000`; a raw NUL byte is not valid JSON at all). Iterative, so 10,000 levels of
 * nesting cost a counter, never a stack frame; the body parser and every recursive walk after it (PATCH values,
 * Bulk data, bulkId substitution) then only ever see documents of bounded depth.
 */
export type JsonTextProblem = { kind: 'depth'; limit: number } | { kind: 'nul' };

const QUOTE = 0x22;
const BACKSLASH = 0x5c;
const OPEN_BRACE = 0x7b;
const OPEN_BRACKET = 0x5b;
const CLOSE_BRACE = 0x7d;
const CLOSE_BRACKET = 0x5d;

export function checkJsonText(text: Uint8Array, maxDepth: number): JsonTextProblem | undefined {
  let depth = 0;
  let inString = false;
  for (let i = 0; i < text.length; i++) {
    const c = text[i];
    if (c === 0) return { kind: 'nul' };
    if (inString) {
      if (c === BACKSLASH) {
        // \u0000 (any case of the hex digits is the same zeros).
        if (text[i + 1] === 0x75 && text[i + 2] === 0x30 && text[i + 3] === 0x30 && text[i + 4] === 0x30 && text[i + 5] === 0x30) return { kind: 'nul' };
        i++;
      } else if (c === QUOTE) inString = false;
      continue;
    }
    if (c === QUOTE) inString = true;
    else if (c === OPEN_BRACE || c === OPEN_BRACKET) {
      if (++depth > maxDepth) return { kind: 'depth', limit: maxDepth };
    } else if (c === CLOSE_BRACE || c === CLOSE_BRACKET) depth--;
  }
  return undefined;
}

/** A NUL anywhere in a string: PostgreSQL cannot store it in text, and it hides the rest of a value from readers. */
export const hasNul = (text: string): boolean => text.includes('\u0000');
