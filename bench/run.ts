/**
 * `npm run bench`: runs each bench/*.ts in its own process, one after another, so that one question's
 * garbage does not weigh on the next. `npm run bench -- receive` runs only the files whose name matches.
 */
import { spawnSync } from 'node:child_process';
import { availableParallelism } from 'node:os';
import { readdirSync } from 'node:fs';

const filters = process.argv.slice(2);
const files = readdirSync(new URL('.', import.meta.url))
  .filter((f) => f.endsWith('.ts') && f !== 'run.ts' && !f.startsWith('_'))
  .filter((f) => filters.length === 0 || filters.some((x) => f.includes(x)))
  .sort();
console.log(`# sentinel benchmarks, node ${process.version}, ${availableParallelism()} cores`);
let failed = 0;
for (const f of files) {
  console.log(`\n## ${f}`);
  const r = spawnSync(
    process.execPath,
    ['--import', 'tsx', '--expose-gc', new URL(f, import.meta.url).pathname],
    {
      stdio: 'inherit',
    },
  );
  if (r.status !== 0) {
    failed++;
    console.log(`\n!! ${f} exited with ${r.status ?? r.signal}`);
  }
}
if (failed > 0) console.log(`\n${failed} of ${files.length} benchmarks failed`);
process.exit(failed === 0 ? 0 : 1);
