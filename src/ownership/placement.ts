// Which intake host should own an enterprise: rendezvous (highest-random-weight) hashing over the live hosts
// that want it. Every host computes the same answer from the same member list, with no coordination; the load is
// even; and when a host leaves, only its own enterprises move (each to the host with the next-highest weight),
// while a host that joins takes about 1/N of everyone's and nothing else moves.

/** 32-bit FNV-1a of a string, finished with murmur3's avalanche so nearby strings spread over the whole range. */
export function hash32(s: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < s.length; i++) {
    h ^= s.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
}

/** The weight of `host` for `name`; ties (practically never) go to the smaller host id. */
function weight(host: string, name: string): number {
  return hash32(`${host}\u0000${name}`);
}

/** The host that should own `name` among `hosts`, undefined when there is none. */
export function ownerOf(name: string, hosts: readonly string[]): string | undefined {
  let best: string | undefined;
  let bestWeight = -1;
  for (const h of hosts) {
    const w = weight(h, name);
    if (w > bestWeight || (w === bestWeight && best !== undefined && h < best)) {
      best = h;
      bestWeight = w;
    }
  }
  return best;
}

/**
 * The names `me` should own: those where it has the highest weight among the hosts that want them. `wants`
 * maps every live host to the names it would serve (`me` included).
 */
export function assign(
  me: string,
  names: readonly string[],
  wants: ReadonlyMap<string, ReadonlySet<string>>,
): string[] {
  const mine: string[] = [];
  for (const name of names) {
    const candidates = [...wants].filter(([, w]) => w.has(name)).map(([h]) => h);
    if (!candidates.includes(me)) candidates.push(me);
    if (ownerOf(name, candidates) === me) mine.push(name);
  }
  return mine;
}
