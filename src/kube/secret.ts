// Turns a pull Secret object into a keyring (pure); problems are described without the secret's contents.
import type { V1Secret } from '@kubernetes/client-node';
import { parseDockerConfig } from '../credentials/index.ts';
import type { SecretContent } from './types.ts';

/** Secret types that hold registry credentials, and the data key each keeps them under. */
const pullSecretTypes: Readonly<Record<string, string>> = {
  'kubernetes.io/dockerconfigjson': '.dockerconfigjson',
  'kubernetes.io/dockercfg': '.dockercfg',
};

/**
 * Reads the docker config a pull Secret carries. `source` labels the credentials
 * (`secret team-a/regcred`) so later messages can say where they came from.
 */
export function secretContent(secret: Pick<V1Secret, 'type' | 'data'>, source: string): SecretContent {
  const type = secret.type ?? '';
  const key = pullSecretTypes[type];
  if (key === undefined) {
    return {
      usable: false,
      problem: `has type ${type === '' ? '(none)' : type}, not kubernetes.io/dockerconfigjson or kubernetes.io/dockercfg`,
    };
  }
  const encoded = secret.data?.[key];
  if (encoded === undefined || encoded === '') return { usable: false, problem: `has no ${key} data` };
  let document: unknown;
  try {
    document = JSON.parse(Buffer.from(encoded, 'base64').toString('utf8'));
  } catch {
    // The parser's message quotes the text it choked on, which is the secret itself: say only what is wrong.
    return { usable: false, problem: `holds ${key} data that is not valid JSON` };
  }
  try {
    return { usable: true, keyring: parseDockerConfig(document, source) };
  } catch {
    return { usable: false, problem: `holds ${key} data that is not a docker config` };
  }
}
