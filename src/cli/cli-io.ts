/** Where a command writes: standard output and standard error, replaceable in tests. */
export interface CliIo {
  out: (line: string) => void;
  err: (line: string) => void;
}
