// The HTTP face of the daemon, on fastify: GET /health (JSON for humans and dashboards; 503 when unhealthy),
// GET /livez (the event loop answers: no dependency checks, so a Redis blip never restarts the pod) and
// GET /readyz (200 once the tree is started and until shutdown begins). close() is idempotent and bounded.
import Fastify, { type FastifyInstance } from 'fastify';
import { bounded } from '../bounded.js';

export interface HealthServerOptions<R extends { status: string }> {
  host: string;
  port: number;
  health: () => R;
  ready: () => boolean;
}

export interface HealthServer {
  readonly port: number;
  readonly url: string;
  close(timeoutMs?: number): Promise<void>;
}

export async function startHealthServer<R extends { status: string }>(opts: HealthServerOptions<R>): Promise<HealthServer> {
  const app: FastifyInstance = Fastify({ logger: false, forceCloseConnections: true, return503OnClosing: true });
  app.get('/health', async (_req, reply) => {
    const report = opts.health();
    return reply.code(report.status === 'unhealthy' ? 503 : 200).header('cache-control', 'no-store').send(report);
  });
  app.get('/livez', async (_req, reply) => reply.code(200).send({ status: 'ok' }));
  app.get('/readyz', async (_req, reply) => {
    const ready = opts.ready();
    return reply.code(ready ? 200 : 503).send({ status: ready ? 'ready' : 'not_ready' });
  });
  await app.listen({ host: opts.host, port: opts.port });
  const address = app.server.address();
  const port = typeof address === 'object' && address !== null ? address.port : opts.port;
  const shownHost = opts.host === '0.0.0.0' || opts.host === '::' ? '127.0.0.1' : opts.host;
  let closing: Promise<void> | undefined;
  return {
    port,
    url: `http://${shownHost}:${port}`,
    close(timeoutMs = 2000) {
      closing ??= bounded(app.close(), timeoutMs).then(() => undefined);
      return closing;
    },
  };
}
