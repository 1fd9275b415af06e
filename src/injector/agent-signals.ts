import { agentConfigSchema, defaultExporterSignals } from '../config/index.js';
import type { Signal } from '../otlp/index.js';

/**
 * The OTLP signals an injected agent takes (issue 16): those at least one of its exporters carries
 * (`exporters[].signals`, by default what the exporter type can carry). The agent answers 404 / UNIMPLEMENTED
 * for the others, so the injector points only these at it. A template the agent would refuse counts as traces
 * only (the injector's own start-up check reports it).
 */
export function agentSignals(template: Readonly<Record<string, unknown>>): ReadonlySet<Signal> {
  const parsed = agentConfigSchema().safeParse(template);
  if (!parsed.success) return new Set(['traces']);
  const out = new Set<Signal>();
  for (const e of parsed.data.exporters)
    for (const s of e.signals ?? defaultExporterSignals(e.type)) out.add(s);
  return out;
}
