import { expect } from 'chai';
import client from 'prom-client';
import { RequestDurations } from '../../src/services/metrics.js';

/** The request duration histogram (services/metrics.ts) held to prom-client's own Histogram: the same exposition. */
describe('request durations histogram', () => {
  it('when the same requests are observed by it and by a prom-client Histogram, then /metrics shows the same lines', async () => {
    const buckets = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5];
    const name = 'switchboard_http_request_duration_seconds';
    const help = 'HTTP request duration by method, route and status';
    const plainRegistry = new client.Registry();
    const plain = new client.Histogram({ name, help, labelNames: ['method', 'route', 'status'] as const, buckets, registers: [plainRegistry] });
    const ourRegistry = new client.Registry();
    const ours = new RequestDurations(name, help, buckets);
    ourRegistry.registerMetric(ours as unknown as client.Metric);
    const observations: [string, string, number, number][] = [
      ['GET', '/scim/v2/Users/:id', 200, 0.0004],
      ['GET', '/scim/v2/Users/:id', 200, 0.001],
      ['GET', '/scim/v2/Users/:id', 200, 0.0031],
      ['GET', '/scim/v2/Users/:id', 404, 0.2],
      ['POST', '/accounts/:accountId/scim/v2/Users', 201, 7.5],
      ['GET', '/scim/v2/Users/:id', 200, 5],
      ['GET', 'unmatched', 401, 0],
    ];
    for (const [method, route, status, seconds] of observations) {
      plain.labels({ method, route, status: String(status) }).observe(seconds);
      ours.observe(method, route, status, seconds);
    }
    const text = await ourRegistry.metrics();
    expect(text).to.equal(await plainRegistry.metrics());
    expect(text).to.contain('switchboard_http_request_duration_seconds_count{method="GET",route="/scim/v2/Users/:id",status="200"} 4');
    // The JSON form too, by what it says (prom-client adds `exemplar: null` and orders the fields its own way).
    const said = async (registry: client.Registry) =>
      (await registry.getMetricsAsJSON()).map((m) => ({ name: m.name, help: m.help, type: m.type, values: m.values.map((v) => ({ metricName: (v as { metricName?: string }).metricName, labels: v.labels, value: v.value })) }));
    expect(await said(ourRegistry)).to.deep.equal(await said(plainRegistry));
  });
});
