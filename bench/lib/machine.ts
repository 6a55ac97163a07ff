// What the figures are relative to: the machine, how busy it already was, and per-process CPU and
// memory from Linux /proc (silently absent elsewhere).
import fs from 'node:fs/promises';
import os from 'node:os';
import { serverInfo, serverLine } from './postgres.ts';
import { say, sleep } from './run.ts';

export interface CpuSample {
  at: bigint;
  /** CPU ms of the server child under test, of every local `postgres` process, of this process. */
  server: number;
  postgres: number;
  self: number;
  /** Machine-wide busy and total jiffies. */
  busy: number;
  total: number;
}

export interface CpuUse {
  /** CPU µs per answered request. */
  serverUs: number;
  postgresUs: number;
  loadUs: number;
  /** Machine-wide busy share over the run, all CPUs together. */
  busyPct: number;
}

const TICK_MS = 10; // USER_HZ is 100 on every mainstream Linux build

/** utime + stime, plus (withChildren) the CPU of exited children it reaped: the postmaster's backends. */
async function procCpuMs(pid: number | string, withChildren = false): Promise<number> {
  const stat = await fs.readFile(`/proc/${pid}/stat`, 'utf8');
  const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ').map(Number);
  return ((f[11] ?? 0) + (f[12] ?? 0) + (withChildren ? (f[13] ?? 0) + (f[14] ?? 0) : 0)) * TICK_MS;
}

export async function cpuSample(serverPid: number | undefined): Promise<CpuSample | undefined> {
  if (process.platform !== 'linux') return undefined;
  try {
    let postgres = 0;
    for (const pid of (await fs.readdir('/proc')).filter((d) => /^\d+$/.test(d))) {
      try {
        if ((await fs.readFile(`/proc/${pid}/comm`, 'utf8')).trim() === 'postgres') postgres += await procCpuMs(pid, true);
      } catch { /* gone */ }
    }
    const cpu = (await fs.readFile('/proc/stat', 'utf8')).split('\n')[0]!.trim().split(/\s+/).slice(1).map(Number);
    const idle = (cpu[3] ?? 0) + (cpu[4] ?? 0);
    const total = cpu.slice(0, 8).reduce((a, b) => a + b, 0);
    const self = process.cpuUsage();
    return {
      at: process.hrtime.bigint(), server: serverPid ? await procCpuMs(serverPid) : 0, postgres,
      self: (self.user + self.system) / 1000, busy: total - idle, total,
    };
  } catch {
    return undefined;
  }
}

export function cpuUse(a: CpuSample | undefined, b: CpuSample | undefined, requests: number): CpuUse | undefined {
  if (!a || !b || requests === 0) return undefined;
  const per = (ms: number) => (ms * 1000) / requests;
  return { serverUs: per(b.server - a.server), postgresUs: per(b.postgres - a.postgres), loadUs: per(b.self - a.self), busyPct: ((b.busy - a.busy) / (b.total - a.total)) * 100 };
}

export function machineLine(): string {
  const cpus = os.cpus();
  return `${cpus.length} CPU(s), ${cpus[0]?.model.trim() ?? 'unknown model'}, ${(os.totalmem() / 2 ** 30).toFixed(1)} GiB RAM, ${os.platform()} ${os.release()}, Node ${process.version}`;
}

/** How busy the machine was over the last second, as a line for the header (undefined off Linux). */
export async function backgroundLine(): Promise<string | undefined> {
  const a = await cpuSample(undefined);
  await sleep(1000);
  const use = cpuUse(a, await cpuSample(undefined), 1);
  if (!use) return undefined;
  return `machine ${use.busyPct.toFixed(0)} % busy in the second before the run${use.busyPct > 10 ? ' (WARNING: other work is running; figures will be low and noisy)' : ''}`;
}

/**
 * The head of every run's report: what it measures, the machine and server it ran on, and how
 * busy the machine already was (the background is sampled first, before this run adds load).
 */
export async function sayRunHeader(title: string): Promise<void> {
  const server = await serverInfo();
  const background = await backgroundLine();
  say(title);
  say(`machine    : ${machineLine()}`);
  say(`postgresql : ${serverLine(server)}`);
  if (background) say(`background : ${background}`);
}

/** Resident set size (`VmRSS`) and its high-water mark (`VmHWM`) of a process, in MiB. */
export async function memoryOf(pid: number): Promise<{ rssMiB: number; hwmMiB: number } | undefined> {
  try {
    const status = await fs.readFile(`/proc/${pid}/status`, 'utf8');
    const kb = (field: string) => Number(new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(status)?.[1] ?? NaN);
    return { rssMiB: kb('VmRSS') / 1024, hwmMiB: kb('VmHWM') / 1024 };
  } catch {
    return undefined;
  }
}
