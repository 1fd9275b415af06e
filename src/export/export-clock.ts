// The export stage's clock is the program's one clock (src/clock.ts, issue 17); these names stay until the
// merge of issue 16's branches lets the export files import src/clock.ts directly.
export {
  ManualClock as ManualExportClock,
  ScaledClock as ScaledExportClock,
  systemClock as systemExportClock,
} from '../clock.js';
export type { Clock as ExportClock } from '../clock.js';
