/** Shorter values would blank out ordinary words; secrets that short are refused when set. */
export const MIN_SCRUBBED_LENGTH = 6;
const MASK = '[redacted]';

/**
 * The secret values this process has handled (secret-store values, tokens and passwords it has
 * seen). Log lines, error messages and audit summaries pass through `scrub`, so a value is hidden
 * even where no field name says it is secret.
 */
export class SecretValues {
  private readonly values = new Set<string>();
  private pattern: RegExp | null = null;

  add(value: string): void {
    if (value.length < MIN_SCRUBBED_LENGTH || this.values.has(value)) return;
    this.values.add(value);
    // JSON-escaped forms too: that is how a value appears inside a serialized log line.
    const forms = new Set([value, JSON.stringify(value).slice(1, -1)]);
    for (const f of forms) this.values.add(f);
    this.pattern = null;
  }

  scrub(text: string): string {
    if (this.values.size === 0) return text;
    this.pattern ??= new RegExp([...this.values].sort((a, b) => b.length - a.length).map(escapeRegExp).join('|'), 'g');
    return text.replace(this.pattern, MASK);
  }
}

const escapeRegExp = (s: string) => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

/** One per process: the logger is made before any store opens, and both must see the same values. */
export const secretValues = new SecretValues();
