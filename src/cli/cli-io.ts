import type { ApiClient } from './api-client.js';

/** Where a command writes: standard output and standard error, replaceable in tests. */
export interface CliIo {
  out: (line: string) => void;
  err: (line: string) => void;
  /** Whether stderr is a terminal (progress rewritten in place) or not (one line per change); default process.stderr.isTTY. */
  stderrIsTTY?: boolean;
  /** Writes text to stderr as is (no newline added), for a progress line rewritten in place; default process.stderr. */
  writeErr?: (text: string) => void;
}

/** Prints a value: JSON with `json` (or without columns), else a table of the rows (or of the one object) over `columns`. */
export type Print = (json: boolean, value: unknown, columns?: string[]) => void;

/** What every group of commands is given by the program. */
export interface CommandContext {
  client: () => ApiClient;
  print: Print;
  io: CliIo;
  /** Delay between polls of something running, for --wait (SWITCHBOARD_POLL_MS, default 1000 ms). */
  pollMs: number;
}

export type Row = Record<string, unknown>;

export const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

export { counted } from '../lib/counted.js';

/**
 * Shows progress on stderr: a terminal gets one line rewritten in place; anything else gets a line per change.
 * `done()` ends the line on a terminal.
 */
export function progressWriter(io: CliIo): { tty: boolean; show(line: string, key?: string): void; done(): void } {
  const tty = io.stderrIsTTY ?? (io.writeErr ? false : Boolean(process.stderr.isTTY));
  const write = io.writeErr ?? ((text: string) => void process.stderr.write(text));
  let width = 0;
  let last: string | undefined;
  let drawn = false;
  return {
    tty,
    show(line, key = line) {
      if (tty) {
        write(`\r${line.padEnd(width)}`);
        width = line.length;
        drawn = true;
      } else if (key !== last) io.err(line);
      last = key;
    },
    done() {
      if (tty && drawn) write('\n');
    },
  };
}
