import type { Knex } from 'knex';

/**
 * Shutdown of the HTTP edge without a lie and without a hang: once `refuse` is called, every connection asked for
 * is refused with the given error, those already waiting in the pool's queue at once, until `reopen`: the server
 * refuses from the end of the grace period until its last connection is closed, then reopens the pool so that the
 * workers, stopping after the requests, still record their outcomes; the pool closes after them.
 *
 * The gate does not tell requests from workers: a worker asking for a connection in that second meets the error
 * as it meets any database outage, and does the work on its next run. Telling them apart took an
 * AsyncLocalStorage scope around every request, and on Node 20 that turns on promise hooks for every promise of
 * the process: 4-9 % of the CPU of a GET /Users/{id} (bench/_reads-cpu.ts, 16 connections), to sort the
 * acquisitions of the last second of a shutdown that overran its grace period.
 */
export interface ConnectionGate {
  /** Refuses the waiting and every later acquisition until `reopen`; returns how many were waiting. */
  refuse(error: () => Error): number;
  /** Lets acquisitions through again. */
  reopen(): void;
}

interface AcquiringClient {
  acquireConnection(): Promise<unknown>;
  releaseConnection(connection: unknown): Promise<unknown>;
  pool?: { numFree(): number };
}

export function gateConnections(knex: Knex): ConnectionGate {
  const client = knex.client as unknown as AcquiringClient;
  const acquire = client.acquireConnection.bind(client);
  const waiting = new Set<(error: Error) => void>();
  let refusal: (() => Error) | undefined;
  // knex's runner and transactions both take their connection through this method of the client instance.
  client.acquireConnection = () => {
    if (refusal) return Promise.reject(refusal());
    // A free connection is handed over at once, so the acquisition never waits for `refuse` to find it: no
    // wrapper (a promise and a set entry more on every read).
    if ((client.pool?.numFree() ?? 0) > 0) return acquire();
    return new Promise((resolve, reject) => {
      let settled = false;
      const refuse = (error: Error) => {
        settled = true;
        reject(error);
      };
      waiting.add(refuse);
      acquire().then(
        (connection) => {
          waiting.delete(refuse);
          // Refused while the pool was handing the connection over: it goes straight back.
          if (settled) void client.releaseConnection(connection);
          else resolve(connection);
        },
        (error: unknown) => {
          waiting.delete(refuse);
          if (!settled) reject(error);
        },
      );
    });
  };
  return {
    refuse(error) {
      refusal = error;
      const count = waiting.size;
      for (const refuse of [...waiting]) refuse(error());
      waiting.clear();
      return count;
    },
    reopen() {
      refusal = undefined;
    },
  };
}
