import { parseYamlDocument } from '../spec/yaml.js';

/** A deployment file's document: YAML (JSON is YAML too). */
export function deploymentDocument(text: string): unknown {
  return parseYamlDocument(text, 'The deployment file');
}
