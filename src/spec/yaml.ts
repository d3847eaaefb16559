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
