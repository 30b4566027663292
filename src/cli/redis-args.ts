/** The Redis flags of `csm queue` and `csm worker`: parsing, help, and a connection that never shows the password. */
import type { ParseArgsConfig } from 'node:util';
import { CsmError } from '../index.js';
import { connectRedis, parseRedisUrl, PASSWORD_ENV, RedisUrlError, scrub, type RedisTarget } from '../queue/index.js';
import type { Redis } from 'ioredis';
import { UsageError } from './output.js';

export const REDIS_OPTIONS = {
  redis: { type: 'string' },
  'redis-password-file': { type: 'string' },
  run: { type: 'string' },
} as const satisfies ParseArgsConfig['options'];

export const REDIS_HELP = `Redis:
  --redis URL             redis://[user@]host[:port][/db], or rediss://… for TLS        [required]
  --redis-password-file F the password, first line of F; else the one in the URL, else
                          $${PASSWORD_ENV}. It is never printed. Never expose a Redis without a
                          password or TLS: whoever reaches it can add and change jobs`;

type Values = { redis?: string | undefined; 'redis-password-file'?: string | undefined };

/** The Redis the flags name (a usage error without --redis, or for a URL that is not redis:// or rediss://). */
export async function redisTarget(values: Values): Promise<RedisTarget> {
  if (!values.redis) throw new UsageError('--redis URL is required (redis://host:port or rediss://host:port)');
  try {
    return await parseRedisUrl(values.redis, values['redis-password-file'] !== undefined ? { passwordFile: values['redis-password-file'] } : {});
  } catch (e) {
    if (e instanceof RedisUrlError) throw new UsageError(e.message);
    throw e;
  }
}

/**
 * Connects, runs `use`, disconnects. Any error's message is cleared of the password before it
 * reaches the user. `persistent`: the connection reconnects for ever (workers).
 */
export async function withRedis<T>(values: Values, use: (client: Redis, target: RedisTarget) => Promise<T>, options: { persistent?: boolean } = {}): Promise<T> {
  const target = await redisTarget(values);
  let client: Redis | undefined;
  try {
    client = await connectRedis(target, options);
    return await use(client, target);
  } catch (e) {
    if (!target.password || !(e instanceof Error) || !e.message.includes(target.password)) throw e;
    const clean = scrub(e.message, target);
    throw e instanceof UsageError ? new UsageError(clean) : new CsmError(clean);
  } finally {
    client?.disconnect();
  }
}
