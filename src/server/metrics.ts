// Prometheus metrics for /metrics. The gate reports through the GateObserver interface so it
// does not depend on prom-client.
import { Counter, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import type { GateObserver } from '../gate/gate.js';

export interface Metrics {
  registry: Registry;
  observer: GateObserver;
  httpRequests: Counter<'route' | 'status'>;
}

export function createMetrics(): Metrics {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry, prefix: 'sluice_' });
  const decisions = new Counter({
    name: 'sluice_decisions_total',
    help: 'Policy decisions by door and effect',
    labelNames: ['door', 'effect'] as const,
    registers: [registry],
  });
  const actions = new Counter({
    name: 'sluice_actions_total',
    help: 'Actions by final status (executed, denied, rejected, expired, cancelled)',
    labelNames: ['door', 'status'] as const,
    registers: [registry],
  });
  const duration = new Histogram({
    name: 'sluice_action_duration_seconds',
    help: 'Time spent running allowed commands on their connection',
    labelNames: ['door'] as const,
    buckets: [0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1, 5, 30],
    registers: [registry],
  });
  const httpRequests = new Counter({
    name: 'sluice_http_requests_total',
    help: 'API requests by route and status code',
    labelNames: ['route', 'status'] as const,
    registers: [registry],
  });
  return {
    registry,
    httpRequests,
    observer: {
      decided(action, decision) {
        decisions.inc({ door: action.door, effect: decision.effect });
      },
      completed(action, status, durationMs) {
        actions.inc({ door: action.door, status });
        if (status === 'executed') duration.observe({ door: action.door }, durationMs / 1000);
      },
    },
  };
}
