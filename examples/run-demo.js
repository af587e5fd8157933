// `npm run demo`: generate the example contracts, compile the demo like a user's peer (tsc,
// nodenext; 'p2pgen' resolves to this package's dist/), and run it.
import { execFileSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('..', import.meta.url));
const run = (file, args) => execFileSync(process.execPath, [file, ...args], { cwd: root, stdio: 'inherit' });

run('cli/bin/p2pgen.js', ['build', 'contracts', '--out', 'generated']);
run('node_modules/typescript/bin/tsc', ['-p', 'examples/tsconfig.json']);
run('.build/examples/demo.js', []);
