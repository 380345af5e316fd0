/**
 * Edits turning `a` into `b`: insertions, deletions, substitutions and swaps of two neighbours,
 * each counting one (a typed `LOGLEVEL` for `LOG_LEVEL` is one, `prot` for `port` one).
 */
function editDistance(a: string, b: string): number {
  // rows[i][j]: edits between the first i characters of a and the first j of b.
  const rows = Array.from({ length: a.length + 1 }, (_, i) => Array.from({ length: b.length + 1 }, (_, j) => (i === 0 ? j : j === 0 ? i : 0)));
  for (let i = 1; i <= a.length; i++) {
    for (let j = 1; j <= b.length; j++) {
      const row = rows[i]!;
      const above = rows[i - 1]!;
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      row[j] = Math.min(above[j]! + 1, row[j - 1]! + 1, above[j - 1]! + cost);
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1]) row[j] = Math.min(row[j]!, rows[i - 2]![j - 2]! + 1);
    }
  }
  return rows[a.length]![b.length]!;
}

/**
 * The known name a mistyped `name` most likely meant, for a "did you mean" hint: the nearest by
 * {@link editDistance}, case ignored, when it is near enough to be a slip (two edits, or a quarter
 * of the name for long ones) rather than another name altogether. Undefined when none is.
 */
export function closestName(name: string, known: Iterable<string>): string | undefined {
  const wanted = name.toUpperCase();
  let best: { name: string; distance: number } | undefined;
  for (const candidate of known) {
    const distance = editDistance(wanted, candidate.toUpperCase());
    if (best === undefined || distance < best.distance) best = { name: candidate, distance };
  }
  if (best === undefined) return undefined;
  return best.distance <= Math.max(2, Math.floor(name.length / 4)) ? best.name : undefined;
}
