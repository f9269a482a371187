// Benchmark helper: CPU time of processes and of their threads (by thread name) read from Linux /proc, so a bench
// can say which process or thread used the CPU during a phase. Everything degrades to "unknown" off Linux.
import { readdirSync, readFileSync } from 'node:fs';

/** Kernel clock ticks per second (USER_HZ); 100 on every Linux this runs on. */
const TICK_MS = 10;

/** utime + stime of a process or thread, in ms; undefined when it is gone or unreadable. */
function statMs(path: string): number | undefined {
  try {
    const text = readFileSync(path, 'utf8');
    // the command name is in parentheses and may contain spaces: fields start after the last ')'
    const fields = text.slice(text.lastIndexOf(')') + 2).split(' ');
    // fields[0] is field 3 (state); utime and stime are fields 14 and 15
    return (Number(fields[11]) + Number(fields[12])) * TICK_MS;
  } catch {
    return undefined;
  }
}

export function processCpuMs(pid: number): number | undefined {
  return statMs(`/proc/${pid}/stat`);
}

/** CPU ms per thread name of one process (threads with the same name are summed; names are cut to 15 chars). */
export function threadCpuMs(pid: number): Map<string, number> {
  const out = new Map<string, number>();
  let tids: string[];
  try {
    tids = readdirSync(`/proc/${pid}/task`);
  } catch {
    return out;
  }
  for (const tid of tids) {
    const ms = statMs(`/proc/${pid}/task/${tid}/stat`);
    if (ms === undefined) continue;
    let name = '?';
    try {
      name = readFileSync(`/proc/${pid}/task/${tid}/comm`, 'utf8').trim();
    } catch {
      // the thread ended between the two reads
    }
    out.set(name, (out.get(name) ?? 0) + ms);
  }
  return out;
}

/** pids whose command name is exactly `comm` (e.g. every PostgreSQL process). */
export function pidsNamed(comm: string): number[] {
  const pids: number[] = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      if (readFileSync(`/proc/${entry}/comm`, 'utf8').trim() === comm) pids.push(Number(entry));
    } catch {
      // gone
    }
  }
  return pids;
}

/** Busy and total CPU ms of the whole machine (all cores) since boot. */
export function machineCpuMs(): { busy: number; total: number } {
  try {
    const line = readFileSync('/proc/stat', 'utf8').split('\n')[0] ?? '';
    const v = line.trim().split(/\s+/).slice(1).map(Number);
    // user nice system idle iowait irq softirq steal (guest fields are already in user/nice)
    const total = v.slice(0, 8).reduce((a, b) => a + b, 0) * TICK_MS;
    const idle = ((v[3] ?? 0) + (v[4] ?? 0)) * TICK_MS;
    return { busy: total - idle, total };
  } catch {
    return { busy: 0, total: 0 };
  }
}

/** What is measured: named groups of pids (a group's CPU is the sum), and processes whose threads are broken down. */
export interface CpuTargets {
  groups: Record<string, () => number[]>;
  threadsOf: Record<string, number>;
}

export interface CpuSnapshot {
  at: number;
  machine: { busy: number; total: number };
  groups: Record<string, Map<number, number>>;
  threads: Record<string, Map<string, number>>;
}

export function snapshotCpu(targets: CpuTargets): CpuSnapshot {
  const groups: Record<string, Map<number, number>> = {};
  for (const [name, pids] of Object.entries(targets.groups)) {
    const m = new Map<number, number>();
    for (const pid of pids()) {
      const ms = processCpuMs(pid);
      if (ms !== undefined) m.set(pid, ms);
    }
    groups[name] = m;
  }
  const threads: Record<string, Map<string, number>> = {};
  for (const [name, pid] of Object.entries(targets.threadsOf)) threads[name] = threadCpuMs(pid);
  return { at: performance.now(), machine: machineCpuMs(), groups, threads };
}

/** CPU use between two snapshots, in percent of one core (200 = both cores of a 2-core machine). */
export interface CpuUse {
  wallMs: number;
  /** whole machine, every process (ours and anybody else's) */
  machinePct: number;
  /** the machine's capacity in the same unit (cores × 100) */
  capacityPct: number;
  groups: Record<string, number>;
  threads: Record<string, Record<string, number>>;
}

const pct = (ms: number, wallMs: number) => Math.round((ms / wallMs) * 1000) / 10;

export function cpuBetween(a: CpuSnapshot, b: CpuSnapshot): CpuUse {
  const wallMs = Math.max(1, b.at - a.at);
  const groups: Record<string, number> = {};
  for (const [name, after] of Object.entries(b.groups)) {
    const before = a.groups[name] ?? new Map<number, number>();
    let ms = 0;
    // a pid that appeared during the window counts from zero; one that ended is lost (noted as a limitation)
    for (const [pid, v] of after) ms += v - (before.get(pid) ?? 0);
    groups[name] = pct(Math.max(0, ms), wallMs);
  }
  const threads: Record<string, Record<string, number>> = {};
  for (const [name, after] of Object.entries(b.threads)) {
    const before = a.threads[name] ?? new Map<string, number>();
    const row: Record<string, number> = {};
    for (const [thread, v] of after) {
      const use = pct(Math.max(0, v - (before.get(thread) ?? 0)), wallMs);
      if (use >= 0.5) row[thread] = use;
    }
    threads[name] = Object.fromEntries(Object.entries(row).sort((x, y) => y[1] - x[1]));
  }
  const machineWall = b.machine.total - a.machine.total;
  const cores = machineWall > 0 ? Math.round(machineWall / wallMs) : 0;
  return {
    wallMs: Math.round(wallMs),
    machinePct: machineWall > 0 ? Math.round(((b.machine.busy - a.machine.busy) / machineWall) * cores * 1000) / 10 : 0,
    capacityPct: cores * 100,
    groups,
    threads,
  };
}
