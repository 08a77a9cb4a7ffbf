#!/usr/bin/env node
// Starts the test registry (lib/registry.mjs) standalone, for C tests and by hand:
//   node tests/js/lib/registry_main.mjs [--dir D] [--port N] [--no-auth] [--no-redirect]
//        [--authorized-key "ssh-ed25519 AAAA…"]
// Prints one JSON line {"url","dataUrl","dir"} on stdout when listening, then
// serves until SIGTERM/SIGINT or until its stdin closes (so it dies with the
// process that started it). Knobs and counters: POST /_test/config,
// GET /_test/stats, POST /_test/reset, POST /_test/seed (see registry.mjs).
import { startRegistry } from './registry.mjs';

const args = process.argv.slice(2);
const opts = { auth: true, redirect: true };
for (let i = 0; i < args.length; i++) {
  const a = args[i];
  if (a === '--dir') opts.dir = args[++i];
  else if (a === '--port') opts.port = Number(args[++i]);
  else if (a === '--no-auth') opts.auth = false;
  else if (a === '--no-redirect') opts.redirect = false;
  else if (a === '--authorized-key') (opts.authorizedKeys ??= []).push(args[++i]);
  else { console.error(`registry_main: unknown argument ${a}`); process.exit(2); }
}

const reg = await startRegistry(opts);
process.stdout.write(JSON.stringify({ url: reg.url, dataUrl: reg.dataUrl, dir: reg.dir }) + '\n');

let closing = false;
async function stop() {
  if (closing) return;
  closing = true;
  await reg.close();
  process.exit(0);
}
process.on('SIGTERM', stop);
process.on('SIGINT', stop);
process.stdin.on('end', stop);
process.stdin.on('error', stop);
process.stdin.resume();
