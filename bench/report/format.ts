/** Number formats shared by the terminal table, the Markdown report and the chart. */

/** 1234 -> "1,234"; 1234567 -> "1.23M". */
export function count(n: number | undefined): string {
  if (n === undefined || !Number.isFinite(n)) return 'n/a';
  if (Math.abs(n) >= 10_000_000) return `${(n / 1e6).toFixed(1)}M`;
  if (Math.abs(n) >= 1_000_000) return `${(n / 1e6).toFixed(2)}M`;
  return Math.round(n).toLocaleString('en-US');
}

/** Milliseconds with sensible precision. */
export function ms(n: number | undefined): string {
  if (n === undefined || !Number.isFinite(n)) return 'n/a';
  return n < 10 ? n.toFixed(2) : n < 100 ? n.toFixed(1) : Math.round(n).toString();
}

export function fixed(n: number | undefined, digits = 1): string {
  if (n === undefined || !Number.isFinite(n)) return 'n/a';
  return n.toFixed(digits);
}

export function ratio(n: number | undefined): string {
  if (n === undefined || !Number.isFinite(n)) return 'n/a';
  return `${n < 10 ? n.toFixed(2) : n.toFixed(1)}x`;
}
