/** One HTTP header's value as node gives it (`string | string[]`): the first, when the peer repeated it. */
export function headerValue(v: string | string[] | undefined): string | undefined {
  return Array.isArray(v) ? v[0] : v;
}
