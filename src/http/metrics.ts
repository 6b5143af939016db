import client from 'prom-client';

/** One registry per app instance (no process-global state), with the default process metrics. */
export function createMetrics() {
  const registry = new client.Registry();
  client.collectDefaultMetrics({ register: registry });
  const httpDuration = new client.Histogram({
    name: 'switchboard_http_request_duration_seconds',
    help: 'HTTP request duration by method, route and status',
    labelNames: ['method', 'route', 'status'] as const,
    buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5],
    registers: [registry],
  });
  // One labelled child per (method, route, status), kept: observing through it skips hashing the labels each time.
  const children = new Map<string, client.Histogram.Internal<'method' | 'route' | 'status'>>();
  const observeRequest = (method: string, route: string, status: number, seconds: number): void => {
    const key = `${method} ${status} ${route}`;
    let child = children.get(key);
    if (child === undefined) {
      child = httpDuration.labels({ method, route, status: String(status) });
      children.set(key, child);
    }
    child.observe(seconds);
  };
  return { registry, httpDuration, observeRequest };
}

export type Metrics = ReturnType<typeof createMetrics>;
