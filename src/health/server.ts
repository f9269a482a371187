// The HTTP face of the daemon, on fastify: GET /livez (the event loop answers: no dependency checks, so a Redis
// blip never restarts the pod) and GET /readyz (200 once the tree is started and until shutdown begins) always open,
// for probes; GET /health (JSON; 503 when unhealthy) and GET /metrics (Prometheus text); and Bull Board at
// /admin/queues. With admin credentials set (ADMIN_USER / ADMIN_PASSWORD) the board is on and needs them, and so do
// /metrics and the detailed /health (without them /health says only the overall status); without, the board is off.
// close() is idempotent and bounded.
import { createHash, timingSafeEqual } from 'node:crypto';
import basicAuth from '@fastify/basic-auth';
import type { Queue } from 'bullmq';
import Fastify, { type FastifyInstance, type FastifyRequest } from 'fastify';
import { bounded } from '../bounded.js';

export interface AdminSettings {
  user: string;
  password: string;
  /** Bull Board without retry, remove, promote or clean */
  readonly: boolean;
}

export interface HealthServerOptions<R extends { status: string; uptime?: number }> {
  host: string;
  port: number;
  health: () => R;
  ready: () => boolean;
  /** Prometheus text for GET /metrics */
  metrics?: () => Promise<string>;
  /** admin credentials: Bull Board on, /metrics and the detailed /health behind them */
  admin?: AdminSettings;
  /** the queues Bull Board shows (with admin only) */
  boardQueues?: readonly Queue[];
}

export interface HealthServer {
  readonly port: number;
  readonly url: string;
  close(timeoutMs?: number): Promise<void>;
}

export const BOARD_PATH = '/admin/queues';
const PROMETHEUS_TEXT = 'text/plain; version=0.0.4; charset=utf-8';

const digest = (s: string) => createHash('sha256').update(s, 'utf8').digest();

/** Constant-time comparison of the given credentials with the admin's. */
function credentialsMatch(admin: AdminSettings, user: string, password: string): boolean {
  const u = timingSafeEqual(digest(user), digest(admin.user));
  const p = timingSafeEqual(digest(password), digest(admin.password));
  return u && p;
}

function basicCredentials(req: FastifyRequest): { user: string; password: string } | undefined {
  const header = req.headers.authorization;
  if (typeof header !== 'string' || !header.startsWith('Basic ')) return undefined;
  const decoded = Buffer.from(header.slice(6), 'base64').toString('utf8');
  const colon = decoded.indexOf(':');
  return colon === -1 ? undefined : { user: decoded.slice(0, colon), password: decoded.slice(colon + 1) };
}

export async function startHealthServer<R extends { status: string; uptime?: number }>(
  opts: HealthServerOptions<R>,
): Promise<HealthServer> {
  const app: FastifyInstance = Fastify({ logger: false, forceCloseConnections: true, return503OnClosing: true });
  const admin = opts.admin;
  const authorized = (req: FastifyRequest) => {
    if (admin === undefined) return true;
    const c = basicCredentials(req);
    return c !== undefined && credentialsMatch(admin, c.user, c.password);
  };

  app.get('/livez', async (_req, reply) => reply.code(200).send({ status: 'ok' }));
  app.get('/readyz', async (_req, reply) => {
    const ready = opts.ready();
    return reply.code(ready ? 200 : 503).send({ status: ready ? 'ready' : 'not_ready' });
  });
  app.get('/health', async (req, reply) => {
    const report = opts.health();
    const code = report.status === 'unhealthy' ? 503 : 200;
    reply.code(code).header('cache-control', 'no-store');
    // the tenant list and error strings only with the admin's credentials (when they are set)
    return reply.send(
      authorized(req)
        ? report
        : { status: report.status, uptime: report.uptime, detail: 'authenticate for the detailed report' },
    );
  });
  if (opts.metrics !== undefined) {
    const metrics = opts.metrics;
    app.get('/metrics', async (req, reply) => {
      if (!authorized(req))
        return reply
          .code(401)
          .header('www-authenticate', 'Basic realm="notifyd"')
          .send({ error: 'authentication required' });
      return reply
        .code(200)
        .header('content-type', PROMETHEUS_TEXT)
        .header('cache-control', 'no-store')
        .send(await metrics());
    });
  }
  if (admin !== undefined) {
    await app.register(async (scope) => {
      await scope.register(basicAuth, {
        authenticate: { realm: 'notifyd admin' },
        validate: async (user, password) => {
          if (!credentialsMatch(admin, user, password)) throw new Error('unauthorized');
        },
      });
      scope.addHook('onRequest', scope.basicAuth);
      // loaded only when the board is on: about 6 MB of the main thread's heap that a daemon without admin
      // credentials never needs
      const [{ createBullBoard }, { BullMQAdapter }, { FastifyAdapter }] = await Promise.all([
        import('@bull-board/api'),
        import('@bull-board/api/bullMQAdapter'),
        import('@bull-board/fastify'),
      ]);
      const serverAdapter = new FastifyAdapter();
      serverAdapter.setBasePath(BOARD_PATH);
      createBullBoard({
        queues: (opts.boardQueues ?? []).map(
          (q) => new BullMQAdapter(q, { readOnlyMode: admin.readonly, allowRetries: !admin.readonly }),
        ),
        serverAdapter,
        options: { uiConfig: { boardTitle: 'notifyd' } },
      });
      await scope.register(serverAdapter.registerPlugin(), { prefix: BOARD_PATH });
    });
  }
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
