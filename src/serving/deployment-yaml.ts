import { parse as parseYaml } from 'yaml';
import { invalidParam } from '../errors/index.js';

/**
 * A deployment file's document: YAML (JSON is YAML too). Apart from deployment-spec.ts so that
 * `capstan serve`, which never reads a file, does not load the YAML parser at start-up.
 */
export function deploymentDocument(text: string): unknown {
  try {
    return parseYaml(text);
  } catch (err) {
    throw invalidParam(`The deployment file is not valid YAML: ${(err as Error).message}`);
  }
}
