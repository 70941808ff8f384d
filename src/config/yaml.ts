// YAML text to plain data, with syntax errors reported as one line naming the file and line.
import { parseDocument } from 'yaml';
import { ConfigError } from '../errors/index.ts';

/**
 * Parses one YAML document into plain data; undefined for an empty document.
 * @param label what the file is, opening every message (`config`, or the key that names the file)
 * @throws ConfigError `LABEL FILE:LINE:COL: invalid YAML: …` on the first syntax error
 */
export function parseYaml(text: string, source: string, label = 'config'): unknown {
  // uniqueKeys (the default) makes a repeated key an error rather than a silent override.
  const doc = parseDocument(text, { prettyErrors: true, uniqueKeys: true });
  const first = doc.errors[0];
  if (first !== undefined) {
    const pos = first.linePos?.[0];
    const where = pos === undefined ? source : `${source}:${String(pos.line)}:${String(pos.col)}`;
    throw new ConfigError(`${label} ${where}: invalid YAML: ${firstLine(first.message)}`, { where, cause: first });
  }
  if (doc.contents === null) return undefined;
  try {
    // maxAliasCount bounds alias expansion ("billion laughs").
    return doc.toJS({ maxAliasCount: 100 }) as unknown;
  } catch (err) {
    throw new ConfigError(`${label} ${source}: invalid YAML: ${firstLine(err instanceof Error ? err.message : String(err))}`, {
      where: source,
      cause: err,
    });
  }
}

/** The message without yaml's " at line L, column C:" suffix and code excerpt. */
function firstLine(message: string): string {
  const line = message.split('\n', 1)[0] ?? message;
  return line.replace(/ at line \d+, column \d+:?$/, '');
}
