/**
 * buf (from the @bufbuild/buf package, which ships its binary) over generated .proto files:
 * build, lint with p2pgen's documented rule set, images for protobuf-es, and breaking-change
 * detection. Each call works on a scratch module holding copies of the files.
 */
import { spawnSync } from 'node:child_process';
import { copyFileSync, readFileSync } from 'node:fs';
import { basename, join } from 'node:path';
import { repoRoot, tempDir } from './paths.js';

const buf = join(repoRoot, 'node_modules/.bin/buf');

/**
 * STANDARD, less the rules p2pgen's naming breaks on purpose (docs/contracts.md, "buf"): names stay the
 * TypeScript names (fields, oneofs after them, rpcs after actions, services after controller
 * classes), and the package and folder are the user's to choose.
 */
export const LINT_EXCEPT = ['FIELD_LOWER_SNAKE_CASE', 'ONEOF_LOWER_SNAKE_CASE', 'RPC_PASCAL_CASE', 'SERVICE_SUFFIX', 'PACKAGE_VERSION_SUFFIX', 'PACKAGE_DIRECTORY_MATCH'];

const config = (extra: object) => JSON.stringify({ version: 'v2', ...extra });

export interface BufResult {
  status: number | null;
  output: string;
}

function run(args: string[], cwd: string): BufResult {
  const result = spawnSync(buf, args, { cwd, encoding: 'utf8' });
  if (result.error) throw result.error;
  return { status: result.status, output: (result.stdout + result.stderr).trim() };
}

/** A scratch buf module holding a copy of each file (by base name). */
export function bufModule(files: string[], prefix = 'buf'): string {
  const dir = tempDir(prefix);
  for (const file of files) copyFileSync(file, join(dir, basename(file)));
  return dir;
}

export function bufBuild(dir: string): BufResult {
  return run(['build', '.', '--config', config({})], dir);
}

export function bufLint(dir: string): BufResult {
  return run(['lint', '.', '--config', config({ lint: { use: ['STANDARD'], except: LINT_EXCEPT } })], dir);
}

/** The module as a FileDescriptorSet (with imports), for protobuf-es's reflection. */
export function bufImage(dir: string): Uint8Array {
  const out = join(dir, 'image.binpb');
  const result = run(['build', '.', '--config', config({}), '--exclude-source-info', '-o', out], dir);
  if (result.status !== 0) throw new Error(`buf build failed: ${result.output}`);
  return new Uint8Array(readFileSync(out));
}

export interface BreakingFinding {
  type: string;
  message: string;
  path: string;
  start_line?: number;
}

/** `buf breaking` of module `dir` against module `against`, with one category (WIRE or WIRE_JSON). */
export function bufBreaking(dir: string, against: string, category: 'WIRE' | 'WIRE_JSON'): BreakingFinding[] {
  const result = run(['breaking', '.', '--against', against, '--config', config({ breaking: { use: [category] } }), '--against-config', config({}), '--error-format', 'json'], dir);
  if (result.status !== 0 && result.output === '') throw new Error(`buf breaking failed with status ${result.status}`);
  return result.output === '' ? [] : result.output.split('\n').map((line) => JSON.parse(line) as BreakingFinding);
}
