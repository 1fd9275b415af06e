import { measureAgentPath } from './_agent-path.js';
const r = await measureAgentPath(process.argv[2] ?? '/work/main');
console.log(JSON.stringify(r));
