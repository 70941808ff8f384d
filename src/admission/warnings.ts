// Admission warnings within the API server's limits: ≤ 120 characters each, ≤ 4096 in all.

/** Longest warning kept whole; longer ones are cut with an ellipsis. */
export const WARNING_MAX_LENGTH = 120;
/** Total the API server passes on; anything beyond it would be dropped silently. */
export const WARNINGS_MAX_TOTAL = 4096;

/** `warnings` cut to the limits, with a last line counting what did not fit. */
export function boundWarnings(warnings: readonly string[]): readonly string[] {
  const out: string[] = [];
  let total = 0;
  for (const [index, warning] of warnings.entries()) {
    const line = shorten(warning.replace(/\s+/g, ' ').trim(), WARNING_MAX_LENGTH);
    const left = warnings.length - index - 1;
    // Keep room for the "N more" line unless this is the last warning.
    const reserve = left > 0 ? 40 : 0;
    if (total + line.length + reserve > WARNINGS_MAX_TOTAL) {
      out.push(`... and ${String(warnings.length - index)} more warnings (see the tagpin audit log)`);
      break;
    }
    out.push(line);
    total += line.length;
  }
  return out;
}

/** `text` cut to `max` characters, ending in an ellipsis when cut. */
function shorten(text: string, max: number): string {
  return text.length <= max ? text : `${text.slice(0, max - 1)}…`;
}
