import { parse as parseYaml } from 'yaml';
import { invalidParam } from '../errors/index.js';

/**
 * A declarative file's document: YAML (JSON is YAML too). Apart from document.ts so that code that
 * never reads a file (`capstan serve`) does not load the YAML parser at start-up.
 */
export function parseYamlDocument(text: string, what: string): unknown {
  try {
    return parseYaml(text);
  } catch (err) {
    throw invalidParam(`${what} is not valid YAML: ${(err as Error).message}`);
  }
}

/** An apply request's document: exactly one of `spec` (an object) or `yaml` (text of the file). */
export function appliedDocument(input: { spec?: unknown; yaml?: unknown }, what: string): unknown {
  if ((input.spec === undefined) === (input.yaml === undefined)) throw invalidParam("Send exactly one of 'spec' (an object) or 'yaml' (text).");
  return input.yaml !== undefined ? parseYamlDocument(String(input.yaml), what) : input.spec;
}
