/**
 * Cluster DNS standing in for this process: the names in `answers` (absolute names such as `localhost.` or the
 * chart's `<store>.<ns>.svc.cluster.local.`, which not every machine's resolver knows: glibc's /etc/hosts lookup
 * does not match a trailing dot) resolve to their IPv4 address in `dns.lookup` (what `net.connect` calls) and
 * `dns.promises.lookup` (what grpc-js's resolver calls); every other name goes to the real resolver.
 */
import dns from 'node:dns';

export interface FakeDns {
  /** Every name looked up that `answers` holds, as asked (a test checks that the trailing dot reached DNS). */
  readonly asked: string[];
  /** Puts the real lookups back. */
  restore(): void;
}

type LookupCallback = (
  err: NodeJS.ErrnoException | null,
  address: string | dns.LookupAddress[],
  family?: number,
) => void;

export function fakeDns(answers: Readonly<Record<string, string>>): FakeDns {
  const asked: string[] = [];
  const lookup = dns.lookup;
  const promisesLookup = dns.promises.lookup;
  const answerOf = (hostname: string): dns.LookupAddress | undefined => {
    const address = Object.hasOwn(answers, hostname) ? answers[hostname] : undefined;
    if (address === undefined) return undefined;
    asked.push(hostname);
    return { address, family: 4 };
  };
  const wantsAll = (options: unknown): boolean =>
    typeof options === 'object' && options !== null && (options as { all?: boolean }).all === true;

  const fakeLookup = (hostname: string, ...rest: unknown[]): void => {
    const answer = answerOf(hostname);
    if (!answer) {
      Reflect.apply(lookup, dns, [hostname, ...rest]);
      return;
    }
    const callback = rest.find((a): a is LookupCallback => typeof a === 'function');
    const all = wantsAll(rest[0]);
    process.nextTick(() => (all ? callback?.(null, [answer]) : callback?.(null, answer.address, 4)));
  };
  const fakePromisesLookup = (hostname: string, options?: unknown): Promise<unknown> => {
    const answer = answerOf(hostname);
    if (!answer) return Reflect.apply(promisesLookup, dns.promises, [hostname, options]) as Promise<unknown>;
    return Promise.resolve(wantsAll(options) ? [answer] : answer);
  };

  Object.assign(dns, { lookup: fakeLookup });
  Object.assign(dns.promises, { lookup: fakePromisesLookup });
  return {
    asked,
    restore: () => {
      Object.assign(dns, { lookup });
      Object.assign(dns.promises, { lookup: promisesLookup });
    },
  };
}
