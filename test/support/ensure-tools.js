#!/usr/bin/env node
/**
 * `npm test` runs this first: the tests use a few programs beyond Node, for real (a headless
 * Chromium runs a peer in a browser tab; nats-server runs the clustered brokers' NATS). When
 * one is missing and this runs as root on Debian, it installs the Debian package; otherwise it
 * stops at once and prints the one command to run. (buf, which checks the generated .proto
 * files, is an npm devDependency: @bufbuild/buf ships its binary.)
 *
 * A tool may also be pointed at with an environment variable (P2PGEN_CHROMIUM=/path/to/chrome).
 * Plain JavaScript: it runs before anything is compiled.
 */
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';

/** What the tests need: how to tell it is there, and the Debian packages that provide it. */
const tools = [
  { name: 'chromium', env: 'P2PGEN_CHROMIUM', present: () => existsSync('/usr/bin/chromium'), packages: ['chromium'] },
  { name: 'nats-server', env: 'P2PGEN_NATS_SERVER', present: () => onPath('nats-server'), packages: ['nats-server'] },
];

function onPath(command) {
  return spawnSync('sh', ['-c', `command -v ${command}`], { stdio: 'ignore' }).status === 0;
}

const missing = tools.filter((tool) => {
  const path = process.env[tool.env];
  if (path) {
    if (!existsSync(path)) {
      console.error(`npm test: ${tool.env}=${path} does not exist`);
      process.exit(1);
    }
    return false;
  }
  return !tool.present();
});

if (missing.length > 0) {
  const packages = missing.flatMap((tool) => tool.packages);
  const command = `apt-get install -y --no-install-recommends ${packages.join(' ')}`;
  const isRoot = typeof process.getuid === 'function' && process.getuid() === 0;
  if (!isRoot || !onPath('apt-get')) {
    console.error(`npm test needs ${missing.map((t) => t.name).join(', ')}: run  sudo ${command}  (or set ${missing.map((t) => t.env).join(' / ')} to a path)`);
    process.exit(1);
  }
  console.log(`npm test: installing ${packages.join(', ')} (Debian packages the tests use)`);
  const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' };
  for (const args of [['update', '-q'], ['install', '-y', '-q', '--no-install-recommends', ...packages]]) {
    const result = spawnSync('apt-get', args, { stdio: 'inherit', env });
    if (result.status !== 0) {
      console.error(`npm test: apt-get ${args.join(' ')} failed (exit ${result.status}); install by hand: ${command}`);
      process.exit(1);
    }
  }
}
