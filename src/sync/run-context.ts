import type { Writer } from '../domain/ownership.js';
import type { SourceGroup } from '../../connectors/sdk/index.js';
import type { SourceRecord } from '../db/sources-repo.js';
import type { SyncCounts, SyncMode, SyncRunRecord } from '../db/sync-runs-repo.js';

export interface SyncRunOptions {
  mode: SyncMode;
  dryRun?: boolean;
  allowDeletes?: boolean;
  trigger?: string;
  /** Aborts the read; what earlier batches committed stays, the run is `failed`. */
  signal?: AbortSignal;
}

/** One run in progress: what the runner, the batch applier and the deletion phase share. */
export interface RunContext {
  accountId: string;
  source: SourceRecord;
  writer: Writer & { type: 'source' };
  run: SyncRunRecord;
  options: SyncRunOptions;
  counts: SyncCounts;
  seq: number;
  /** Anchors the read reported deleted. */
  deletes: string[];
  /** Anchors deleted softly (still at the source, restorable): deactivated without starting the grace period. */
  softDeletes: Set<string>;
  /** Groups the read yielded, applied once its users are written (group-sync.ts). */
  groups: SourceGroup[];
  groupDeletes: string[];
  processed: number;
  /** Why the deletion threshold stopped the run, with its numbers. */
  thresholdError?: string;
  /** The connector found its source unchanged since the saved state (`SourceState.idle`). */
  idle: boolean;
}

export function messageOf(error: unknown): string {
  if (error && typeof error === 'object' && 'kind' in error && 'detail' in error) return `${String(error.kind)}: ${String(error.detail)}`;
  return error instanceof Error ? error.message : String(error);
}
