import type { Knex } from 'knex';

/**
 * Shutdown of the HTTP edge without a lie and without a hang: once `refuse` is called, the connections asked for by
 * the work `applies` names (requests, as the server tells them apart) are refused with the given error, those
 * already waiting in the pool's queue at once. The pool itself stays open: workers stopping after the requests
 * still record their outcomes, and the pool closes after them.
 */
export interface ConnectionGate {
  /** Refuses the waiting and every later acquisition that `applies` to; returns how many were waiting. */
  refuse(error: () => Error): number;
}

interface AcquiringClient {
  acquireConnection(): Promise<unknown>;
  releaseConnection(connection: unknown): Promise<unknown>;
}

export function gateConnections(knex: Knex, applies: () => boolean): ConnectionGate {
  const client = knex.client as unknown as AcquiringClient;
  const acquire = client.acquireConnection.bind(client);
  const waiting = new Set<(error: Error) => void>();
  let refusal: (() => Error) | undefined;
  // knex's runner and transactions both take their connection through this method of the client instance.
  client.acquireConnection = () => {
    if (!applies()) return acquire();
    if (refusal) return Promise.reject(refusal());
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
  };
}
