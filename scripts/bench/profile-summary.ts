// Summarises a V8 .cpuprofile (node --cpu-prof): self time by package and by function, top N.
//   npx tsx scripts/bench/profile-summary.ts <file.cpuprofile> [N]
import { readFileSync } from 'node:fs';

interface Node {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
  children?: number[];
}
const [file, n = '25'] = process.argv.slice(2);
const profile = JSON.parse(readFileSync(file!, 'utf8')) as {
  nodes: Node[];
  samples: number[];
  timeDeltas: number[];
};
const byId = new Map(profile.nodes.map((node) => [node.id, node]));
const self = new Map<number, number>();
profile.samples.forEach((id, i) => {
  self.set(id, (self.get(id) ?? 0) + (profile.timeDeltas[i] ?? 0));
});
const total = [...self.values()].reduce((a, b) => a + b, 0);

const area = (url: string, fn: string) => {
  if (!url) return fn.startsWith('(') ? fn : '(native)';
  const m = /node_modules\/(?:\.pnpm\/[^/]+\/node_modules\/)?((?:@[^/]+\/)?[^/]+)/.exec(url);
  if (m) return m[1]!;
  if (url.startsWith('node:')) return url;
  const w = /packages\/([^/]+)\//.exec(url);
  return w ? `@woopdi/${w[1]}` : url;
};
const add = (map: Map<string, number>, key: string, us: number) => map.set(key, (map.get(key) ?? 0) + us);
const areas = new Map<string, number>();
const fns = new Map<string, number>();
for (const [id, us] of self) {
  const { callFrame: f } = byId.get(id)!;
  add(areas, area(f.url, f.functionName), us);
  add(
    fns,
    `${f.functionName || '(anonymous)'} ${f.url.replace(/^.*node_modules\//, '').replace(/^file:\/\/.*\/packages\//, '')}:${f.lineNumber + 1}`,
    us,
  );
}
const top = (map: Map<string, number>) =>
  [...map]
    .sort((a, b) => b[1] - a[1])
    .slice(0, Number(n))
    .map(([k, us]) => `${((us / total) * 100).toFixed(1).padStart(5)}%  ${k}`)
    .join('\n');
console.log(
  `total ${(total / 1e6).toFixed(2)} s sampled\n\nby package:\n${top(areas)}\n\nby function (self):\n${top(fns)}`,
);

// PROFILE_CALLERS=<function name>: who calls it (self time attributed to each caller chain).
const wanted = process.env.PROFILE_CALLERS;
if (wanted) {
  const parent = new Map<number, number>();
  for (const node of profile.nodes) for (const c of node.children ?? []) parent.set(c, node.id);
  const chains = new Map<string, number>();
  for (const [id, us] of self) {
    const node = byId.get(id)!;
    if (
      node.callFrame.functionName !== wanted &&
      !`${node.callFrame.url}:${node.callFrame.lineNumber + 1}`.endsWith(wanted)
    )
      continue;
    const chain: string[] = [];
    for (let p = parent.get(id); p !== undefined && chain.length < 6; p = parent.get(p)) {
      const f = byId.get(p)!.callFrame;
      chain.push(`${f.functionName || '(anon)'}@${f.url.split('/').slice(-2).join('/')}:${f.lineNumber + 1}`);
    }
    add(chains, chain.join(' < '), us);
  }
  console.log(`\ncallers of ${wanted}:\n${top(chains)}`);
}
