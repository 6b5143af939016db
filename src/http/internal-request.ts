import type { IncomingMessage } from 'node:http';

/**
 * Requests the app sends itself (a Bulk operation or a root search replayed over the loopback listener): already
 * counted once as the client's own request, so rate limits do not count them again.
 */
const internal = new WeakSet<IncomingMessage>();

export function markInternal(req: IncomingMessage): void {
  internal.add(req);
}

export function isInternal(req: IncomingMessage): boolean {
  return internal.has(req);
}
