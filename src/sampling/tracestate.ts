/**
 * W3C `tracestate` editing, limited to what the sampler needs: set sub-keys of the OpenTelemetry `ot`
 * member and keep every other vendor's member as it was.
 *
 * W3C Trace Context §3.3: members are `key=value` separated by commas (optional spaces and tabs around
 * them), at most 32 members; a member that is modified moves to the front (§3.5). OpenTelemetry
 * (trace/tracestate-handling): the `ot` value is `key:value` pairs separated by semicolons.
 */

const MAX_MEMBERS = 32;
const MAX_OT_VALUE = 256;

/** Splits a tracestate header value into its members, dropping empty ones. */
export function parseTraceState(traceState: string): string[] {
  if (traceState === '') return [];
  const out: string[] = [];
  for (const part of traceState.split(',')) {
    const m = part.trim();
    if (m !== '') out.push(m);
  }
  return out;
}

/** The value of a sub-key of `ot` (`th`, `rv`, ...), or undefined. */
export function getOtValue(traceState: string, key: string): string | undefined {
  for (const member of parseTraceState(traceState)) {
    if (!member.startsWith('ot=')) continue;
    for (const kv of member.slice(3).split(';')) {
      const i = kv.indexOf(':');
      if (i > 0 && kv.slice(0, i) === key) return kv.slice(i + 1);
    }
  }
  return undefined;
}

/** The value of a vendor member (`key=value`), or undefined. */
export function getTraceStateMember(traceState: string, key: string): string | undefined {
  for (const member of parseTraceState(traceState)) {
    const i = member.indexOf('=');
    if (i > 0 && member.slice(0, i) === key) return member.slice(i + 1);
  }
  return undefined;
}

/**
 * Sets `ot` sub-keys (in the given order, before the sub-keys already there), moving `ot` to the front
 * and keeping the other members in their order. Drops the last member when the list would exceed 32.
 */
export function setOtValues(traceState: string, values: ReadonlyArray<readonly [string, string]>): string {
  const members = parseTraceState(traceState);
  const setKeys = new Set(values.map(([k]) => k));
  let rest: string[] = [];
  const others: string[] = [];
  for (const member of members) {
    if (member.startsWith('ot=')) {
      rest = member
        .slice(3)
        .split(';')
        .filter((kv) => kv !== '' && !setKeys.has(kv.slice(0, Math.max(0, kv.indexOf(':')))));
    } else others.push(member);
  }
  const parts = [...values.map(([k, v]) => `${k}:${v}`), ...rest];
  // An ot value longer than the W3C limit loses its trailing unknown sub-keys first.
  while (parts.join(';').length > MAX_OT_VALUE && parts.length > values.length) parts.pop();
  const out = [`ot=${parts.join(';')}`, ...others];
  if (out.length > MAX_MEMBERS) out.length = MAX_MEMBERS;
  return out.join(',');
}
