// Fails `npm test` early, with the fix, when a system tool the tests need is missing.
import { spawnSync } from 'node:child_process';

const needs: ReadonlyArray<{ readonly command: string; readonly args: readonly string[]; readonly install: string }> = [
  { command: 'docker-registry', args: ['--version'], install: 'apt-get install -y docker-registry' },
  { command: 'openssl', args: ['version'], install: 'apt-get install -y openssl' },
  { command: 'htpasswd', args: ['-h'], install: 'apt-get install -y apache2-utils' },
  { command: 'tinyproxy', args: ['-v'], install: 'apt-get install -y tinyproxy' },
  { command: 'unzip', args: ['-v'], install: 'apt-get install -y unzip' },
  { command: 'skopeo', args: ['--version'], install: 'apt-get install -y skopeo' },
  { command: 'go', args: ['version'], install: 'install Go 1.25 or newer (the KRM function tests build kustomize with it)' },
];

const missing = needs.filter((n) => spawnSync(n.command, [...n.args], { stdio: 'ignore' }).error !== undefined);
for (const n of missing) {
  process.stderr.write(`tests need \`${n.command}\`, which is not installed: run \`apt-get update && ${n.install}\` (or bash .ci/run)\n`);
}
if (missing.length > 0) process.exit(1);
