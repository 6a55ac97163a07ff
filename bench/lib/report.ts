// Percentiles of latency samples, and the compact table every benchmark ends with: each figure
// beside the baseline measured in the same run and the goal with met/MISSED.
import { say } from './run.ts';

/** Nearest-rank percentile of `values` (any order); NaN when empty. */
export function percentile(values: number[], p: number): number {
  if (values.length === 0) return NaN;
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))]!;
}

export function fmt(n: number, digits = 0): string {
  return Number.isFinite(n) ? n.toFixed(digits) : '—';
}

export function ms(n: number): string {
  return Number.isFinite(n) ? `${n < 10 ? n.toFixed(2) : n < 100 ? n.toFixed(1) : n.toFixed(0)} ms` : '—';
}

/** "≤ 250 ms: met" / "≥ 300/s: MISSED"; `unit` is appended to the goal. */
export function verdict(value: number, goal: number, direction: 'max' | 'min', unit: string): string {
  const ok = Number.isFinite(value) && (direction === 'max' ? value <= goal : value >= goal);
  return `${direction === 'max' ? '≤' : '≥'} ${goal}${unit}: ${ok ? 'met' : 'MISSED'}`;
}

/** Left-aligned first column, the rest right-aligned, except the columns named in `left`. */
export function table(header: string[], rows: string[][], left: number[] = [0]): void {
  const all = [header, ...rows];
  const widths = header.map((_, c) => Math.max(...all.map((r) => (r[c] ?? '').length)));
  const line = (r: string[]) => r.map((cell, c) => (left.includes(c) ? cell.padEnd(widths[c]!) : cell.padStart(widths[c]!))).join('  ').trimEnd();
  say(line(header));
  say(widths.map((w) => '─'.repeat(w)).join('  '));
  for (const r of rows) say(line(r));
}
