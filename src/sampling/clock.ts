// The sampler's clock is the program's one clock (src/clock.ts, issue 17); kept as a path for the files that
// import it until the merge of issue 16's branches lets them import src/clock.ts directly.
export { ManualClock, systemClock } from '../clock.js';
export type { Clock, ClockTimer } from '../clock.js';
