/** Reads a Sentinel admin server's `/metrics` into `series (with labels) -> value`, summing repeats. */
export async function scrapeMetrics(port: number): Promise<Map<string, number>> {
  const text = await (await fetch(`http://127.0.0.1:${port}/metrics`)).text();
  const out = new Map<string, number>();
  for (const line of text.split('\n')) {
    if (line.startsWith('#') || !line) continue;
    const i = line.lastIndexOf(' ');
    const key = line.slice(0, i);
    out.set(key, (out.get(key) ?? 0) + Number(line.slice(i + 1)));
  }
  return out;
}
