// The compose files and images deploy what the README says: both files resolve with `docker-compose config` and an
// empty environment, their resolved form has each property below, and Dockerfile.daemon ships the product only.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { accessSync, constants, existsSync, readFileSync } from 'node:fs';
import { delimiter, isAbsolute, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { before, describe, it } from 'node:test';
import { variables } from '../../src/config/schema.js';

const ROOT = fileURLToPath(new URL('../../../', import.meta.url));
const DOCKER = join(ROOT, 'docker');
const DEV = join(DOCKER, 'docker-compose.yml');
const PROD = join(DOCKER, 'docker-compose.prod.yml');
const HEALTH_PORT = 3001;

/** The variables the configuration marks secret (schema.ts): production must pass each one as a file. */
const SECRET_VARIABLES = Object.entries(variables)
  .filter(([, spec]) => 'secret' in spec && spec.secret)
  .map(([name]) => name);

// ---- docker-compose ------------------------------------------------------------------------------------------

function findOnPath(name: string): string | undefined {
  for (const dir of (process.env['PATH'] ?? '').split(delimiter).filter((d) => d !== '')) {
    try {
      accessSync(join(dir, name), constants.X_OK);
      return join(dir, name);
    } catch {
      /* next */
    }
  }
  return undefined;
}

const COMPOSE = findOnPath('docker-compose');
const SKIP =
  COMPOSE === undefined
    ? 'docker-compose is not installed (apt-get install docker-compose; .ci/run installs it): the compose files ' +
      'were not validated'
    : false;

interface Ran {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** Runs docker-compose as a fresh shell with nothing set would: the environment holds PATH alone. */
function compose(args: string[]): Ran {
  const r = spawnSync(COMPOSE as string, args, {
    cwd: ROOT,
    env: { PATH: process.env['PATH'] ?? '' },
    encoding: 'utf8',
    timeout: 60_000,
  });
  return { code: r.status, stdout: r.stdout ?? '', stderr: r.stderr ?? `${r.error?.message ?? ''}` };
}

/**
 * The resolved file as JSON. Compose v2 prints it (`config --format json`); v1 (Debian's, Python) prints YAML only,
 * so it is read with the YAML library v1 itself runs on: the interpreter of its own `#!` line.
 */
function asJson(file: string, yamlText: string): ComposeFile {
  const version = compose(['version', '--short']).stdout.trim();
  if (!/^1\./.test(version)) {
    const r = compose(['-f', file, 'config', '--format', 'json']);
    assert.equal(r.code, 0, `docker-compose ${version} config --format json failed:\n${r.stderr}`);
    return JSON.parse(r.stdout) as ComposeFile;
  }
  const shebang = readFileSync(COMPOSE as string, 'utf8').split('\n', 1)[0] ?? '';
  const words = shebang.replace(/^#!/, '').trim().split(/\s+/);
  const python = (words[0] ?? '').endsWith('/env') ? (words[1] ?? 'python3') : (words[0] ?? 'python3');
  const r = spawnSync(
    python || 'python3',
    ['-c', 'import json, sys, yaml; json.dump(yaml.safe_load(sys.stdin), sys.stdout)'],
    { input: yamlText, encoding: 'utf8' },
  );
  assert.equal(r.status, 0, `could not read docker-compose ${version}'s YAML with ${python}'s yaml: ${r.stderr}`);
  return JSON.parse(r.stdout) as ComposeFile;
}

// ---- the resolved file, normalised over v1 and v2 ------------------------------------------------------------

interface Service {
  image?: string;
  build?: { context?: string; dockerfile?: string };
  command?: string[] | string;
  entrypoint?: string[] | string;
  environment?: Record<string, string | null>;
  healthcheck?: { test?: string[] | string; disable?: boolean };
  restart?: string;
  deploy?: {
    replicas?: number;
    resources?: { limits?: { cpus?: string | number; memory?: string | number } };
    restart_policy?: { condition?: string };
  };
  depends_on?: Record<string, { condition?: string }> | string[];
  ports?: (string | { target: number | string; published?: number | string; host_ip?: string })[];
  secrets?: (string | { source: string })[];
  networks?: Record<string, unknown> | string[];
  volumes?: (string | { source?: string; target: string })[];
}

interface ComposeFile {
  services: Record<string, Service>;
  secrets?: Record<string, { file?: string }>;
  networks?: Record<string, { internal?: boolean } | null>;
}

const list = (v: string[] | string | undefined): string[] =>
  v === undefined ? [] : Array.isArray(v) ? v : v.split(/\s+/).filter((s) => s !== '');
const env = (s: Service): Record<string, string> =>
  Object.fromEntries(Object.entries(s.environment ?? {}).map(([k, v]) => [k, v ?? '']));
const secretsOf = (s: Service): string[] => (s.secrets ?? []).map((x) => (typeof x === 'string' ? x : x.source));
const networksOf = (s: Service): string[] =>
  s.networks === undefined ? ['default'] : Array.isArray(s.networks) ? s.networks : Object.keys(s.networks);
const dependsOn = (s: Service): Record<string, string> =>
  Array.isArray(s.depends_on)
    ? Object.fromEntries(s.depends_on.map((d) => [d, 'service_started']))
    : Object.fromEntries(Object.entries(s.depends_on ?? {}).map(([k, v]) => [k, v.condition ?? 'service_started']));
const replicas = (s: Service): number => Number(s.deploy?.replicas ?? 1);
const role = (s: Service): string | undefined => env(s)['DAEMON_ROLE'];
const healthTest = (s: Service): string => list(s.healthcheck?.test).join(' ');
const dockerfileOf = (s: Service): string | undefined => s.build?.dockerfile?.replace(/^.*docker\//, 'docker/');

/** Published ports as { host_ip, published, target }, from v1's "ip:pub:target/proto" or v2's objects. */
function ports(s: Service): { hostIp: string; published: string; target: number }[] {
  return (s.ports ?? []).map((p) => {
    if (typeof p !== 'string')
      return { hostIp: p.host_ip ?? '', published: String(p.published ?? ''), target: Number(p.target) };
    const parts = p.replace(/\/(tcp|udp)$/, '').split(':');
    const target = Number(parts.pop());
    const published = parts.pop() ?? '';
    return { hostIp: parts.join(':'), published, target };
  });
}

/** Bind mounts and volumes as { source, target } (v1: "src:dst:mode"; v2: objects). */
function mounts(s: Service): { source: string; target: string }[] {
  return (s.volumes ?? []).map((v) => {
    if (typeof v !== 'string') return { source: v.source ?? '', target: v.target };
    const [source = '', target = ''] = v.split(':');
    return { source, target };
  });
}

/** `--flag value` pairs of a command line. */
function flags(args: string[]): Map<string, string> {
  const out = new Map<string, string>();
  for (let i = 0; i < args.length; i++) {
    const a = args[i] as string;
    if (a.startsWith('--')) out.set(a.slice(2), args[i + 1] ?? '');
  }
  return out;
}

/**
 * A tag that names one release: no `latest`, no bare major or minor (redis:7, node:24-slim). A digest pins too.
 * PostgreSQL's versions have had two parts since 10 (15.19 is a patch release), so postgres images need two.
 */
function pinProblem(ref: string): string | undefined {
  if (ref.includes('@sha256:')) return undefined;
  const slash = ref.lastIndexOf('/');
  const colon = ref.lastIndexOf(':');
  if (colon <= slash) return `${ref} has no tag`;
  const name = ref.slice(0, colon);
  const tag = ref.slice(colon + 1);
  if (tag === 'latest') return `${ref} is :latest`;
  const parts = /postgres$/.test(name) ? 2 : 3;
  const version = new RegExp(`^v?\\d+${'\\.\\d+'.repeat(parts - 1)}(?![.\\d])`);
  return version.test(tag) ? undefined : `${ref}: the tag must start with a full version (${parts} parts)`;
}

function load(file: string): ComposeFile {
  const r = compose(['-f', file, 'config']);
  assert.equal(
    r.code,
    0,
    `docker-compose -f ${relative(ROOT, file)} config exited ${r.code} with only PATH set:\n${r.stderr}`,
  );
  return asJson(file, r.stdout);
}

const notifyd = (c: ComposeFile): [string, Service][] =>
  Object.entries(c.services).filter(([, s]) => role(s) !== undefined);

// ---- Dockerfiles ---------------------------------------------------------------------------------------------

interface Instruction {
  op: string;
  args: string;
}

/** Instructions per stage (continuations joined, comments dropped), ARG defaults before the first FROM applied. */
function dockerfile(path: string): Instruction[][] {
  const text = readFileSync(path, 'utf8').replace(/\\\r?\n/g, ' ');
  const globals = new Map<string, string>();
  const stages: Instruction[][] = [];
  for (const line of text.split(/\r?\n/)) {
    const m = /^\s*([A-Za-z]+)\s+(.*)$/.exec(line);
    if (m === null || line.trim().startsWith('#')) continue;
    const op = (m[1] as string).toUpperCase();
    const args = (m[2] as string).trim();
    if (op === 'ARG' && stages.length === 0) {
      const [k, v] = args.split('=');
      if (k !== undefined && v !== undefined) globals.set(k, v);
      continue;
    }
    if (op === 'FROM') {
      const resolved = args.replace(/\$\{?([A-Za-z_]+)\}?/g, (_, k: string) => globals.get(k) ?? '');
      stages.push([{ op, args: resolved }]);
      continue;
    }
    stages.at(-1)?.push({ op, args });
  }
  return stages;
}

/** The sources of a COPY or ADD (flags such as --from and --chown removed, the destination last). */
function copySources(i: Instruction): string[] {
  const words = i.args.startsWith('[')
    ? (JSON.parse(i.args) as string[])
    : i.args.split(/\s+/).filter((w) => !w.startsWith('--'));
  return words.slice(0, -1);
}

const fromImage = (stage: Instruction[]): string => (stage[0]?.args ?? '').split(/\s+/)[0] ?? '';

// ---- tests ---------------------------------------------------------------------------------------------------

describe('docker/docker-compose.yml (development): up on a fresh clone', { skip: SKIP }, () => {
  let dev: ComposeFile;
  before(() => {
    dev = load(DEV);
  });

  it('resolves with nothing but PATH in the environment', () => {
    assert.ok(Object.keys(dev.services).length > 0);
  });

  it('runs PostgreSQL from Dockerfile.postgres with wal_level=logical', () => {
    const pg = dev.services['postgres'];
    assert.ok(pg, 'a postgres service');
    assert.equal(dockerfileOf(pg), 'docker/Dockerfile.postgres');
    const args = list(pg.command);
    const settings = args.flatMap((a, i) => (a === '-c' ? [args[i + 1]] : a.startsWith('-c') ? [a.slice(2)] : []));
    assert.ok(settings.includes('wal_level=logical'), `postgres command sets wal_level=logical: ${args.join(' ')}`);
  });

  it('runs Redis with append-only persistence and noeviction', () => {
    const redis = dev.services['redis'];
    assert.ok(redis, 'a redis service');
    const f = flags(list(redis.command));
    assert.equal(f.get('appendonly'), 'yes');
    assert.equal(f.get('appendfsync'), 'everysec');
    assert.equal(f.get('maxmemory-policy'), 'noeviction');
  });

  it('runs the stand-ins from Dockerfile.devstack, fed by its PostgreSQL, accepting the keys notifyd sends', () => {
    const standins = dev.services['standins'];
    assert.ok(standins, 'a standins service');
    assert.equal(dockerfileOf(standins), 'docker/Dockerfile.devstack');
    const se = env(standins);
    assert.equal(new URL(se['DATABASE_URL'] ?? '').hostname, 'postgres', 'the stand-in reads the WAL of `postgres`');
    assert.equal(dependsOn(standins)['postgres'], 'service_healthy');
    const services = notifyd(dev);
    assert.ok(services.length > 0);
    for (const [name, s] of services) {
      const e = env(s);
      assert.equal(e['SUPABASE_URL'], `http://standins:${se['REALTIME_PORT']}`, `${name}: Realtime is the stand-in`);
      assert.equal(e['NOVU_API_URL'], `http://standins:${se['NOVU_PORT']}`, `${name}: Novu is the stand-in`);
      assert.equal(e['SUPABASE_SERVICE_ROLE_KEY'], se['SUPABASE_SERVICE_ROLE_KEY'], `${name}: a key Realtime accepts`);
      assert.equal(e['NOVU_SECRET_KEY'], se['NOVU_SECRET_KEY'], `${name}: a key Novu accepts`);
      assert.equal(e['DATABASE_URL'], se['DATABASE_URL'], `${name}: the database the stand-in watches`);
      assert.equal(new URL(e['REDIS_URL'] ?? '').hostname, 'redis', `${name}: the compose Redis`);
    }
  });

  it('runs the migrations once, before the stand-ins and every notifyd process start', () => {
    const migrate = dev.services['migrate'];
    assert.ok(migrate, 'a migrate service');
    assert.match(list(migrate.command).join(' '), /dist\/src\/cli\/migrate\.js|notifyd(\.js)? migrate/);
    assert.ok(migrate.restart === undefined || migrate.restart === 'no', 'a one-shot: never restarted');
    const waiting: [string, Service | undefined][] = [...notifyd(dev), ['standins', dev.services['standins']]];
    for (const [name, s] of waiting) {
      assert.ok(s, `a ${name} service`);
      assert.equal(dependsOn(s)['migrate'], 'service_completed_successfully', `${name} waits for the migrations`);
    }
  });

  it('runs one intake daemon (DAEMON_ROLE=daemon) and two workers (DAEMON_ROLE=worker) from Dockerfile.daemon', () => {
    const count = (r: string) =>
      notifyd(dev)
        .filter(([, s]) => role(s) === r)
        .reduce((n, [, s]) => n + replicas(s), 0);
    assert.equal(count('daemon'), 1);
    assert.equal(count('worker'), 2);
    for (const [name, s] of notifyd(dev)) assert.equal(dockerfileOf(s), 'docker/Dockerfile.daemon', name);
  });

  it('runs Prometheus with the alert rules and Grafana with the provisioned dashboard', () => {
    const prometheus = dev.services['prometheus'];
    const grafana = dev.services['grafana'];
    assert.ok(prometheus && grafana, 'prometheus and grafana services');
    const mounted = (s: Service, dir: string, target: string) =>
      mounts(s).some((m) => m.target === target && m.source.replace(/\/+$/, '').endsWith(dir));
    assert.ok(mounted(prometheus, 'docker/observability/prometheus', '/etc/prometheus'), 'the rules directory');
    assert.ok(list(prometheus.command).includes('--config.file=/etc/prometheus/prometheus.yml'));
    assert.ok(secretsOf(prometheus).includes('admin_password'), 'the scrape password file');
    assert.ok(mounted(grafana, 'docker/observability/grafana/provisioning', '/etc/grafana/provisioning'));
    assert.ok(mounted(grafana, 'docker/observability/grafana/dashboards', '/etc/grafana/dashboards/notifyd'));
  });

  it('has Prometheus scrape every notifyd service by its name, and nothing that is not one', () => {
    const config = readFileSync(join(DOCKER, 'observability/prometheus/prometheus.yml'), 'utf8');
    const job = /- job_name: notifyd\n([\s\S]*?)(?=\n\s*- job_name:|$)/.exec(config)?.[1] ?? '';
    const targets = [...job.matchAll(/"([a-z0-9_.-]+):(\d+)"/g)].map((m) => `${m[1]}:${m[2]}`);
    const expected = notifyd(dev).map(([name]) => `${name}:${HEALTH_PORT}`);
    assert.deepEqual([...targets].sort(), [...expected].sort());
  });

  it('finds every file it mounts in the repository: no setup step before `up`', () => {
    for (const [name, secret] of Object.entries(dev.secrets ?? {})) {
      assert.ok(secret.file !== undefined && existsSync(secret.file), `secret ${name}: ${secret.file} exists`);
    }
    for (const [name, s] of Object.entries(dev.services)) {
      for (const m of mounts(s).filter((x) => isAbsolute(x.source))) {
        assert.ok(existsSync(m.source), `${name}: ${m.source} exists`);
      }
    }
  });

  it('pins every image to a full version', () => {
    for (const [name, s] of Object.entries(dev.services)) {
      assert.ok(s.image !== undefined, `${name} names its image`);
      assert.equal(pinProblem(s.image), undefined, `${name}: ${pinProblem(s.image)}`);
    }
  });
});

describe('docker/docker-compose.prod.yml (production)', { skip: SKIP }, () => {
  let prod: ComposeFile;
  before(() => {
    prod = load(PROD);
  });
  const oneShot = (s: Service) => /migrate/.test(list(s.command).join(' '));

  it('resolves with nothing but PATH in the environment', () => {
    assert.ok(Object.keys(prod.services).length > 0);
  });

  it('runs one intake daemon and replicated workers', () => {
    const count = (r: string) =>
      notifyd(prod)
        .filter(([, s]) => role(s) === r)
        .reduce((n, [, s]) => n + replicas(s), 0);
    assert.equal(count('daemon'), 1);
    assert.ok(count('worker') >= 2, `at least 2 worker replicas, got ${count('worker')}`);
  });

  it('checks readiness on /readyz for every notifyd service', () => {
    for (const [name, s] of notifyd(prod)) {
      assert.notEqual(s.healthcheck?.disable, true, name);
      assert.match(healthTest(s), new RegExp(`127\\.0\\.0\\.1:${HEALTH_PORT}/readyz`), `${name}: ${healthTest(s)}`);
      assert.equal(env(s)['DAEMON_HEALTH_PORT'] ?? String(HEALTH_PORT), String(HEALTH_PORT), name);
    }
  });

  it('restarts every long-running service, under compose and under swarm', () => {
    for (const [name, s] of Object.entries(prod.services).filter(([, x]) => !oneShot(x))) {
      assert.match(s.restart ?? '', /^(always|unless-stopped|on-failure(:\d+)?)$/, `${name}: restart`);
      assert.match(s.deploy?.restart_policy?.condition ?? '', /^(any|on-failure)$/, `${name}: deploy.restart_policy`);
    }
  });

  it('limits the CPU and memory of every service', () => {
    for (const [name, s] of Object.entries(prod.services)) {
      const limits = s.deploy?.resources?.limits;
      assert.ok(limits?.cpus !== undefined && limits.memory !== undefined, `${name}: cpus and memory limits`);
    }
  });

  it('passes every secret the configuration has as a file (*_FILE), from a secret file', () => {
    assert.ok(SECRET_VARIABLES.includes('DATABASE_URL') && SECRET_VARIABLES.length >= 4, 'read from schema.ts');
    for (const [name, secret] of Object.entries(prod.secrets ?? {})) {
      assert.ok(secret.file !== undefined, `secret ${name} is a file`);
      assert.match(relative(DOCKER, secret.file), /^secrets\//, `secret ${name} lives under docker/secrets/`);
    }
    const check = (name: string, s: Service, variable: string) => {
      const e = env(s);
      assert.equal(e[variable] ?? '', '', `${name}: ${variable} is never a plain variable`);
      const file = /^\/run\/secrets\/(.+)$/.exec(e[`${variable}_FILE`] ?? '');
      assert.ok(file, `${name}: ${variable}_FILE=/run/secrets/<secret>`);
      assert.ok(secretsOf(s).includes(file[1] as string), `${name} mounts the secret ${file[1]}`);
      assert.ok(prod.secrets?.[file[1] as string]?.file, `the secret ${file[1]} is defined, from a file`);
    };
    for (const [name, s] of notifyd(prod)) for (const v of SECRET_VARIABLES) check(name, s, v);
    for (const [name, s] of Object.entries(prod.services).filter(([, x]) => oneShot(x))) check(name, s, 'DATABASE_URL');
  });

  it('puts no password or secret on any command line or in any variable', () => {
    const credentialUrl = /[a-z][a-z0-9+.-]*:\/\/[^/\s@]*:[^/\s@]+@/i;
    for (const [name, s] of Object.entries(prod.services)) {
      const lines = [list(s.command), list(s.entrypoint), list(s.healthcheck?.test)];
      for (const args of lines) {
        const text = args.join(' ');
        assert.doesNotMatch(text, /--requirepass|--masterauth|(^|\s)(-a|--pass|--password)(\s|=)/, `${name}: ${text}`);
        assert.doesNotMatch(text, credentialUrl, `${name}: no credentials in a URL: ${text}`);
      }
      for (const [k, v] of Object.entries(env(s))) {
        assert.doesNotMatch(v, credentialUrl, `${name}: ${k} holds no credentials`);
        const secretish = /PASSWORD|SECRET|_KEY$|TOKEN/.test(k) && !k.endsWith('_FILE');
        assert.ok(!secretish || v === '', `${name}: ${k} is set only as ${k}_FILE`);
      }
    }
  });

  it('has Redis read its password from a secret file', () => {
    const redis = prod.services['redis'];
    assert.ok(redis, 'a redis service');
    const include = flags(list(redis.command)).get('include') ?? '';
    const secret = /^\/run\/secrets\/(.+)$/.exec(include);
    assert.ok(secret, `redis-server --include /run/secrets/<secret>: ${list(redis.command).join(' ')}`);
    assert.ok(secretsOf(redis).includes(secret[1] as string), `redis mounts the secret ${secret[1]}`);
    assert.ok(prod.secrets?.[secret[1] as string]?.file, `the secret ${secret[1]} is a file`);
  });

  it('runs Redis with AOF fsynced every second and no eviction (BullMQ needs it)', () => {
    const redis = prod.services['redis'];
    assert.ok(redis, 'a redis service');
    const f = flags(list(redis.command));
    assert.equal(f.get('appendonly'), 'yes');
    assert.equal(f.get('appendfsync'), 'everysec');
    assert.equal(f.get('maxmemory-policy'), 'noeviction');
  });

  it('pins every image to a full version (no latest, no bare major)', () => {
    for (const [name, s] of Object.entries(prod.services)) {
      assert.ok(s.image !== undefined, `${name} names its image`);
      assert.equal(pinProblem(s.image), undefined, `${name}: ${pinProblem(s.image)}`);
    }
  });

  it("publishes only the daemon's health port", () => {
    for (const [name, s] of Object.entries(prod.services)) {
      for (const p of ports(s)) {
        assert.equal(role(s), 'daemon', `${name} publishes ${p.published}:${p.target}: only the daemon may`);
        assert.equal(p.target, HEALTH_PORT, `${name}: only the health port ${HEALTH_PORT}`);
      }
    }
  });

  it('keeps Redis on an internal network (internal: true) that notifyd joins', () => {
    const internal = Object.entries(prod.networks ?? {})
      .filter(([, n]) => n?.internal === true)
      .map(([k]) => k);
    assert.ok(internal.length > 0, 'an internal network');
    const redis = prod.services['redis'];
    assert.ok(redis, 'a redis service');
    for (const n of networksOf(redis)) assert.ok(internal.includes(n), `redis is on ${n}, which is not internal`);
    for (const [name, s] of notifyd(prod)) {
      assert.ok(
        networksOf(s).some((n) => networksOf(redis).includes(n)),
        `${name} shares a network with redis`,
      );
    }
  });

  it('keeps the secret files out of git and out of the build context', () => {
    assert.match(readFileSync(join(ROOT, '.gitignore'), 'utf8'), /^\/?docker\/secrets\/?$/m);
    assert.match(readFileSync(join(ROOT, '.dockerignore'), 'utf8'), /^\/?docker\/secrets\/?$/m);
  });
});

describe('docker/Dockerfile.daemon: the product only', () => {
  const stages = dockerfile(join(DOCKER, 'Dockerfile.daemon'));
  const final = stages.at(-1) ?? [];

  it('copies no test code and no stand-ins, and compiles without src/devstack', () => {
    for (const i of stages.flat().filter((x) => x.op === 'COPY' || x.op === 'ADD')) {
      for (const src of copySources(i)) {
        assert.doesNotMatch(src, /(^|\/)test(\/|$)|devstack/, `${i.op} ${i.args}`);
        assert.notEqual(src.replace(/^\.\/?/, ''), '', `${i.op} ${i.args} copies the whole context`);
      }
    }
    // `COPY src` brings the stand-ins' sources: they must be gone before `npm run build` compiles src.
    const runs = stages.flat().filter((x) => x.op === 'RUN');
    const build = runs.findIndex((r) => /npm run build|tsc\b/.test(r.args));
    assert.ok(build >= 0, 'the image compiles the product');
    const text = runs
      .slice(0, build + 1)
      .map((r) => r.args)
      .join(' ; ');
    const removed = /rm -r?f?r? ([^;&|]*\s)?src\/devstack/.exec(text);
    assert.ok(removed && removed.index < text.lastIndexOf('npm run build'), `src/devstack is removed first: ${text}`);
  });

  it('runs as a non-root user', () => {
    const user = final
      .filter((i) => i.op === 'USER')
      .at(-1)
      ?.args.split(':')[0];
    assert.ok(user !== undefined && !['root', '0'].includes(user), `the final stage's USER: ${user}`);
  });

  it('has a HEALTHCHECK', () => {
    const check = final.find((i) => i.op === 'HEALTHCHECK');
    assert.ok(check && !/^NONE$/i.test(check.args), 'a HEALTHCHECK in the final stage');
    assert.match(check.args, /\/(livez|readyz)/);
  });

  it('ships dist/supervisor.js and the whole dist/supervisor directory (launch.js re-executes node)', () => {
    const copied = final.filter((i) => i.op === 'COPY').flatMap(copySources);
    const has = (path: string) => copied.some((c) => c.replace(/\/+$/, '').endsWith(path) || /\/app\/dist$/.test(c));
    assert.ok(has('/dist/supervisor.js'), `dist/supervisor.js: ${copied.join(', ')}`);
    assert.ok(has('/dist/supervisor'), `dist/supervisor/: ${copied.join(', ')}`);
    assert.match(final.find((i) => i.op === 'CMD')?.args ?? '', /dist\/supervisor\.js/);
  });
});

describe('docker/Dockerfile.devstack and Dockerfile.postgres: the development images', () => {
  it('runs the stand-ins entry as a non-root user', () => {
    const final = dockerfile(join(DOCKER, 'Dockerfile.devstack')).at(-1) ?? [];
    const user = final.filter((i) => i.op === 'USER').at(-1)?.args;
    assert.ok(user !== undefined && !['root', '0'].includes(user), `USER ${user}`);
    assert.match(final.find((i) => i.op === 'CMD')?.args ?? '', /dist\/src\/devstack\/standins\.js/);
    assert.ok(existsSync(join(ROOT, 'src/devstack/standins.ts')), 'the entry it runs exists');
  });

  it('installs wal2json into PostgreSQL and allows it where output_plugin_libraries lists plugins', () => {
    const stages = dockerfile(join(DOCKER, 'Dockerfile.postgres'));
    const all = stages.flat();
    assert.ok(
      all.some((i) => i.op === 'RUN' && /apt-get install[^;&]*postgresql-(\$\{?PG_MAJOR\}?|\d+)-wal2json/.test(i.args)),
      'apt-get install postgresql-<major>-wal2json',
    );
    const init = all.find((i) => i.op === 'COPY' && /\/docker-entrypoint-initdb\.d\/?$/.test(i.args));
    assert.ok(init, 'an init script in /docker-entrypoint-initdb.d');
    const sql = readFileSync(join(ROOT, copySources(init)[0] ?? ''), 'utf8');
    assert.match(sql, /alter system set output_plugin_libraries/i);
    assert.match(sql, /'wal2json'/);
  });

  it('pins the base image of every Dockerfile to a full version', () => {
    for (const file of ['Dockerfile.daemon', 'Dockerfile.devstack', 'Dockerfile.postgres']) {
      const stages = dockerfile(join(DOCKER, file));
      const names = new Set(stages.map((s) => /\sAS\s+(\S+)/i.exec(s[0]?.args ?? '')?.[1]).filter(Boolean));
      for (const stage of stages) {
        const image = fromImage(stage);
        if (names.has(image)) continue;
        assert.equal(pinProblem(image), undefined, `${file}: FROM ${image}: ${pinProblem(image)}`);
      }
    }
  });
});
