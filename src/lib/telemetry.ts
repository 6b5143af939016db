/**
 * What the workers report as it happens, for /metrics (services/metrics.ts). The services, the sync engine and the
 * rate limits take one; without it (tests that build a part alone) nothing is reported.
 */
export interface Telemetry {
  /** A sync run ended: its source's kind, final status, length, and its records by outcome. */
  syncRunFinished(run: { kind: string; status: string; seconds: number; outcomes: Readonly<Record<string, number>> }): void;
  /** An action ended (`completed`, `failed`) or was refused before it started (`refused`). */
  actionFinished(type: string, status: string): void;
  /** A request refused with 429: which limit (`token`, `failed_auth`, `link_pages`). */
  rateLimitRefused(limit: string): void;
}

export const noTelemetry: Telemetry = {
  syncRunFinished: () => undefined,
  actionFinished: () => undefined,
  rateLimitRefused: () => undefined,
};
