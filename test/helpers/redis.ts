/**
 * A real, private redis-server for the queue tests: Debian's redis-server on a free loopback port
 * in a temporary folder, stopped (and its folder removed) by the test. Tests skip, saying why,
 * where redis-server is not installed (.ci/run installs it).
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/** The redis-server on PATH, or undefined. */
export function redisServerPath(): string | undefined {
  const r = spawnSync('sh', ['-c', 'command -v redis-server'], { encoding: 'utf8' });
  return r.status === 0 && r.stdout.trim() ? r.stdout.trim() : undefined;
}

export const NO_REDIS = 'redis-server is not installed (apt-get install redis-server; .ci/run installs it)';

/** A free TCP port on 127.0.0.1 (the OS picks one; it is free again when this returns). */
async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.unref();
    s.on('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const port = (s.address() as { port: number }).port;
      s.close(() => resolve(port));
    });
  });
}

export interface TestRedis {
  port: number;
  /** redis://127.0.0.1:PORT, or rediss:// with tls (no password in it). */
  url: string;
  /** With tls: the self-signed certificate that is also the CA to trust. */
  ca?: string;
  dir: string;
  /** Stops the server (SIGTERM: with appendonly it flushes first) and waits for it to exit. */
  stop(): Promise<void>;
  /** Starts it again on the same port and folder (its data back when appendonly). */
  start(): Promise<void>;
  /** Stops it and removes its folder. */
  close(): Promise<void>;
}

/** Why a TLS Redis cannot be started here (no openssl to make a certificate), or undefined. */
export function noTls(): string | undefined {
  return spawnSync('openssl', ['version']).status === 0 ? undefined : 'openssl is not installed (it makes the test certificate)';
}

/**
 * Starts a redis-server on a free loopback port in a new temporary folder, without snapshots;
 * `appendonly` keeps its data across a restart (fsync on every write), `password` sets requirepass,
 * `tls` serves TLS only, with a self-signed certificate for 127.0.0.1 made by openssl.
 */
export async function startRedis(options: { appendonly?: boolean; password?: string; tls?: boolean } = {}): Promise<TestRedis> {
  const bin = redisServerPath();
  if (!bin) throw new Error(NO_REDIS);
  const dir = mkdtempSync(join(tmpdir(), 'csm-redis-'));
  const port = await freePort();
  let child: ChildProcess | undefined;
  const cert = join(dir, 'cert.pem');
  const key = join(dir, 'key.pem');
  if (options.tls) {
    const r = spawnSync('openssl', ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', key, '-out', cert, '-days', '1', '-subj', '/CN=127.0.0.1', '-addext', 'subjectAltName=IP:127.0.0.1'], { encoding: 'utf8' });
    if (r.status !== 0) throw new Error(`openssl could not make a test certificate: ${r.stderr}`);
  }
  const listen = options.tls
    ? ['--port', '0', '--tls-port', String(port), '--tls-cert-file', cert, '--tls-key-file', key, '--tls-ca-cert-file', cert, '--tls-auth-clients', 'no']
    : ['--port', String(port)];
  const args = [...listen, '--bind', '127.0.0.1', '--dir', dir, '--save', '',
    '--appendonly', options.appendonly ? 'yes' : 'no', ...(options.appendonly ? ['--appendfsync', 'always'] : []),
    ...(options.password ? ['--requirepass', options.password] : [])];
  const start = (): Promise<void> => new Promise((resolve, reject) => {
    const c = spawn(bin, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    child = c;
    let log = '';
    const timer = setTimeout(() => reject(new Error(`redis-server did not start on port ${port} in 10 s:\n${log}`)), 10_000);
    c.stdout!.on('data', (d: Buffer) => {
      log += d.toString();
      if (/Ready to accept connections/.test(log)) { clearTimeout(timer); resolve(); }
    });
    c.stderr!.on('data', (d: Buffer) => { log += d.toString(); });
    c.on('exit', (code) => { clearTimeout(timer); if (!/Ready to accept/.test(log)) reject(new Error(`redis-server exited (${code}) before it was ready:\n${log}`)); });
  });
  const stop = (): Promise<void> => new Promise((resolve) => {
    const c = child;
    if (!c || c.exitCode !== null || c.signalCode !== null) return resolve();
    c.once('exit', () => resolve());
    c.kill('SIGTERM');
  });
  await start();
  return {
    port, url: `${options.tls ? 'rediss' : 'redis'}://127.0.0.1:${port}`, ...(options.tls ? { ca: cert } : {}), dir, stop, start,
    async close() { await stop(); rmSync(dir, { recursive: true, force: true }); },
  };
}
