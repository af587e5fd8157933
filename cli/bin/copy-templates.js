#!/usr/bin/env node
// npm pack (prepack): `p2pgen init` scaffolds from the repository's top-level templates/ folder;
// a package can only ship files inside its own folder, so they are copied into it first.
// `--remove` (postpack) deletes the copy again: in the repository, `p2pgen init` then reads
// templates/ itself, never a copy that went stale.
import { cpSync, rmSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

const from = fileURLToPath(new URL('../../templates', import.meta.url));
const to = fileURLToPath(new URL('../templates', import.meta.url));
rmSync(to, { recursive: true, force: true });
if (!process.argv.includes('--remove')) cpSync(from, to, { recursive: true });
