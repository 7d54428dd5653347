// Starts a real `cloakroom serve` (the built binary) on a free port in a temporary data
// directory, with cheap password hashing, after adding users with `cloakroom user add`.
import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));

/** The cloakroom binary: $CLOAKROOM_BIN (the Rust test sets it), else target/debug. */
export function binary() {
  const bin = process.env.CLOAKROOM_BIN || join(here, '..', 'target', 'debug', 'cloakroom');
  if (!existsSync(bin)) {
    throw new Error(`no cloakroom binary at ${bin}: run cargo build, or set CLOAKROOM_BIN`);
  }
  return bin;
}

function env(mode) {
  const out = {};
  for (const [k, v] of Object.entries(process.env)) {
    if (!k.startsWith('CLOAKROOM_')) out[k] = v;
  }
  out.CLOAKROOM_MODE = mode;
  out.CLOAKROOM_INSECURE_FAST_HASHING_FOR_TESTS = 'true';
  out.RUST_LOG = 'warn';
  return out;
}

/** Adds a user with `cloakroom user add NAME [--role R] --password-stdin`. */
export function addUser(server, name, password, roles = []) {
  const args = ['user', 'add', name, ...roles.flatMap((r) => ['--role', r]), '--password-stdin'];
  const r = spawnSync(server.bin, args, {
    cwd: server.dir, env: env(server.mode), input: `${password}\n`, encoding: 'utf8',
  });
  if (r.status !== 0) throw new Error(`user add ${name} failed: ${r.stderr}`);
}

/** Starts the server; resolves to {url, stop(), ...} once it prints where it listens. */
export async function startServer(mode, users) {
  const bin = binary();
  const dir = mkdtempSync(join(tmpdir(), `cloakroom-e2e-${mode}-`));
  const server = { bin, dir, mode };
  for (const [name, password, roles] of users) addUser(server, name, password, roles);
  const child = spawn(bin, ['serve', '--listen', '127.0.0.1:0'], {
    cwd: dir, env: env(mode), stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stderr = '';
  child.stderr.on('data', (d) => { stderr += d; });
  const url = await new Promise((resolve, reject) => {
    let out = '';
    const timer = setTimeout(() => reject(new Error(`cloakroom did not start: ${out} ${stderr}`)), 20000);
    child.stdout.on('data', (d) => {
      out += d;
      const m = out.match(/listening on (http:\/\/127\.0\.0\.1:\d+)/);
      if (m) { clearTimeout(timer); resolve(m[1]); }
    });
    child.on('exit', (code) => { clearTimeout(timer); reject(new Error(`cloakroom exited (${code}): ${stderr}`)); });
  });
  server.url = url;
  server.stop = async () => {
    if (child.exitCode === null) {
      const done = new Promise((r) => child.once('exit', r));
      child.kill('SIGTERM');
      await done;
    }
    rmSync(dir, { recursive: true, force: true });
  };
  return server;
}
