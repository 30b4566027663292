/**
 * Connecting to the Redis that holds a queue run: `redis://` or `rediss://` (TLS) URLs, a password
 * from the URL, a file or the environment, and messages that never show the password.
 *
 * BullMQ 6 takes ioredis as an optional peer: it is handed ready ioredis clients. Commands that
 * answer at once (submit, status, collect) fail fast with a clear message when Redis cannot be
 * reached; a worker's clients reconnect for ever (ioredis' backoff), so a Redis restart does not
 * end a long run.
 */
import { readFile } from 'node:fs/promises';
import { isIP } from 'node:net';
import { Redis, type RedisOptions } from 'ioredis';
import { CsmError } from '../errors.js';

/** Where the password of a Redis URL may come from, besides the URL itself. */
export const PASSWORD_ENV = 'CSM_REDIS_PASSWORD';

/** A Redis to connect to, parsed; `password` is never printed (see {@link redactedUrl}). */
export interface RedisTarget {
  host: string;
  port: number;
  tls: boolean;
  db: number;
  username?: string;
  password?: string;
  /** The URL without its password, for messages. */
  shown: string;
}

/** A Redis URL or password that cannot be used. */
export class RedisUrlError extends CsmError {}

/** The URL with any password replaced by `***`. */
export function redactedUrl(url: string): string {
  return url.replace(/^(rediss?:\/\/)([^@/]*)@/i, (_, scheme: string, auth: string) => `${scheme}${auth.includes(':') ? `${auth.split(':')[0]}:***` : '***'}@`);
}

/**
 * Parses `redis://[user[:password]@]host[:port][/db]` or `rediss://…` (TLS). The password is taken,
 * in this order, from `passwordFile` (its first line), the URL, or `$CSM_REDIS_PASSWORD`.
 */
export async function parseRedisUrl(url: string, options: { passwordFile?: string; env?: Record<string, string | undefined> } = {}): Promise<RedisTarget> {
  const shown = redactedUrl(url);
  let u: URL;
  try {
    u = new URL(url);
  } catch {
    throw new RedisUrlError(`--redis takes a redis:// or rediss:// URL, got "${shown}"`);
  }
  if (u.protocol !== 'redis:' && u.protocol !== 'rediss:') throw new RedisUrlError(`--redis takes a redis:// or rediss:// (TLS) URL, got a ${u.protocol}// URL`);
  if (!u.hostname) throw new RedisUrlError(`--redis URL "${shown}" names no host`);
  const port = u.port ? Number(u.port) : 6379;
  const dbText = u.pathname.replace(/^\//, '');
  const db = dbText === '' ? 0 : Number(dbText);
  if (!Number.isInteger(db) || db < 0) throw new RedisUrlError(`--redis URL "${shown}": the database (after the /) must be a whole number, got "${dbText}"`);
  let password = u.password ? decodeURIComponent(u.password) : undefined;
  if (options.passwordFile !== undefined) {
    let text: string;
    try {
      text = await readFile(options.passwordFile, 'utf8');
    } catch (e) {
      throw new RedisUrlError(`--redis-password-file "${options.passwordFile}": ${(e as NodeJS.ErrnoException).code === 'ENOENT' ? 'no such file' : (e as Error).message}`);
    }
    password = text.split(/\r?\n/)[0]!;
    if (!password) throw new RedisUrlError(`--redis-password-file "${options.passwordFile}" is empty`);
  } else if (password === undefined) {
    const env = (options.env ?? process.env)[PASSWORD_ENV];
    if (env) password = env;
  }
  const username = u.username ? decodeURIComponent(u.username) : undefined;
  const host = u.hostname.replace(/^\[(.*)\]$/, '$1');
  return { host, port, tls: u.protocol === 'rediss:', db, ...(username ? { username } : {}), ...(password !== undefined ? { password } : {}), shown: `${u.protocol}//${host.includes(':') ? `[${host}]` : host}:${port}${db ? `/${db}` : ''}` };
}

/** An error message with the password (if any) cut out. */
export function scrub(message: string, target: Pick<RedisTarget, 'password'> | undefined): string {
  const p = target?.password;
  return p ? message.split(p).join('***') : message;
}

function clientOptions(target: RedisTarget, persistent: boolean): RedisOptions {
  return {
    host: target.host, port: target.port, db: target.db,
    ...(target.username ? { username: target.username } : {}),
    ...(target.password !== undefined ? { password: target.password } : {}),
    // SNI takes a host name, never an IP address (RFC 6066); the certificate is checked either way.
    ...(target.tls ? { tls: isIP(target.host) ? {} : { servername: target.host } } : {}),
    lazyConnect: true,
    // BullMQ's blocking commands need unlimited retries per request on a worker's connection.
    maxRetriesPerRequest: persistent ? null : 1,
    connectTimeout: 10_000,
    // A worker reconnects for ever (every 0.1 s growing to 2 s); a one-shot command gives up.
    retryStrategy: persistent ? (times) => Math.min(100 * times, 2000) : () => null,
  };
}

/**
 * An ioredis client, connected (a clear CsmError when Redis cannot be reached or refuses the
 * password). `persistent`: reconnect for ever after the first connection (workers).
 */
export async function connectRedis(target: RedisTarget, options: { persistent?: boolean } = {}): Promise<Redis> {
  const client = new Redis(clientOptions(target, options.persistent ?? false));
  // Errors are reported by the command that meets them; without a listener ioredis would print
  // them. The first one says why a connection failed (NOAUTH…) better than "Connection is closed".
  let first: unknown;
  client.on('error', (e) => { first ??= e; });
  try {
    await client.connect();
    await client.ping();
  } catch (e) {
    client.disconnect();
    throw redisError(first ?? e, target);
  }
  return client;
}

/** A Redis failure as a CsmError that names the server (never the password) and the likely cause. */
export function redisError(e: unknown, target: RedisTarget): CsmError {
  const m = scrub(String((e as Error)?.message ?? e), target);
  const give = `give it in the URL, --redis-password-file FILE or $${PASSWORD_ENV}`;
  const hint = /NOAUTH/.test(m) ? ` (Redis needs a password: ${give})`
    : /WRONGPASS|invalid password|invalid username-password/i.test(m) ? ` (Redis refused the password: ${give})`
    : /self[- ]signed|unable to verify|certificate/i.test(m) ? ` (to trust the server's CA: NODE_EXTRA_CA_CERTS=ca.pem)`
    : /ECONNRESET/.test(m) && !target.tls ? ' (a TLS port? use a rediss:// URL)'
    : /ECONNREFUSED|ENOTFOUND|ETIMEDOUT|EHOSTUNREACH|Connection is closed|connect/i.test(m) ? ' (is redis-server running there and reachable?)' : '';
  return new CsmError(`cannot use Redis at ${target.shown}: ${m}${hint}`, { cause: e });
}
