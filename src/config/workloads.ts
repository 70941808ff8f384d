// The rules of `workloads` (custom resource kinds and presets) and of the kind names `mutate.kinds` may use.
import { PRESETS, SUPPORTED_KINDS, isPresetName, pointerPatternProblem } from '../workload/index.ts';
import type { CustomKind } from '../workload/index.ts';
import { Problem, describe, list, mapping, rejectUnknown, text } from './checks.ts';
import type { Config } from './types.ts';

const KIND = /^[A-Z][A-Za-z0-9]*$/;
/** A CustomResourceDefinition's group: a lowercase DNS subdomain with at least one dot (the API server's own rule). */
const CRD_GROUP = /^(?=.{1,253}$)[a-z0-9](?:[-a-z0-9]*[a-z0-9])?(?:\.[a-z0-9](?:[-a-z0-9]*[a-z0-9])?)+$/;
const DNS_LABEL = /^[a-z0-9](?:[-a-z0-9]{0,61}[a-z0-9])?$/;

const CUSTOM_KIND_KEYS = ['apiGroup', 'kind', 'resource', 'versions', 'podSpecs', 'images'] as const;

/** A kind name as Kubernetes writes them: `Rollout`, `CronJob`. */
export function kindName(value: unknown, path: string): string {
  const name = text(value, path);
  if (!KIND.test(name)) throw new Problem(path, `${path} must be a kind name such as Deployment or Rollout: a capital letter, then letters and digits (got ${describe(value)})`);
  return name;
}

/** One entry of `workloads.customKinds`. */
export function customKind(value: unknown, path: string): CustomKind {
  const given = mapping(value, path);
  rejectUnknown(given, CUSTOM_KIND_KEYS, path);
  const required = (key: string, what: string): unknown => {
    if (!Object.hasOwn(given, key)) throw new Problem(`${path}.${key}`, `${path}.${key} is missing: ${what}`);
    return given[key];
  };
  const apiGroup = text(required('apiGroup', 'the API group of the CustomResourceDefinition, e.g. argoproj.io'), `${path}.apiGroup`);
  if (!CRD_GROUP.test(apiGroup)) {
    throw new Problem(
      `${path}.apiGroup`,
      `${path}.apiGroup must be the API group of a CustomResourceDefinition: a lowercase DNS name with at least one dot, like argoproj.io (got ${describe(apiGroup)}); built-in kinds need no entry`,
    );
  }
  const kind = kindName(required('kind', 'the kind of its objects, e.g. Rollout'), `${path}.kind`);
  const resource = text(required('resource', 'the plural resource name the webhook rules match (the CRD\'s spec.names.plural), e.g. rollouts'), `${path}.resource`);
  if (!DNS_LABEL.test(resource)) {
    throw new Problem(`${path}.resource`, `${path}.resource must be the plural resource name in lowercase, like rollouts (the CRD's spec.names.plural; got ${describe(resource)})`);
  }
  const versions = Object.hasOwn(given, 'versions') ? list(version)(given['versions'], `${path}.versions`) : ['*'];
  if (versions.length === 0) throw new Problem(`${path}.versions`, `${path}.versions must not be empty: list the versions to read, or leave it out for every version`);
  const podSpecs = Object.hasOwn(given, 'podSpecs') ? list(pointerPattern)(given['podSpecs'], `${path}.podSpecs`) : [];
  const images = Object.hasOwn(given, 'images') ? list(pointerPattern)(given['images'], `${path}.images`) : [];
  if (podSpecs.length === 0 && images.length === 0) {
    throw new Problem(
      path,
      `${path} needs podSpecs or images: the JSON pointers (with * for every array index) of its pod specs or image fields, e.g. podSpecs: [/spec/template/spec]`,
    );
  }
  return { apiGroup, kind, resource, versions, podSpecs, images };
}

function version(value: unknown, path: string): string {
  const name = text(value, path);
  if (name !== '*' && !DNS_LABEL.test(name)) throw new Problem(path, `${path} must be a version such as v1 or v1alpha1, or * for every version (got ${describe(value)})`);
  return name;
}

function pointerPattern(value: unknown, path: string): string {
  const pattern = text(value, path);
  const problem = pointerPatternProblem(pattern);
  if (problem !== undefined) {
    throw new Problem(path, `${path} must be a JSON pointer such as /spec/template/spec or /spec/steps/*/image: it ${problem} (got ${describe(value)})`);
  }
  return pattern;
}

/**
 * Refuses a kind that `workloads` names twice (by group and kind, or by group and resource), then
 * returns `mutate.kinds`: as given, each a built-in kind or a kind of `workloads`; when not given,
 * every built-in kind followed by every kind `workloads` adds.
 */
export function settleKinds(config: Config, kindsGiven: boolean): readonly string[] {
  const { presets, customKinds } = config.workloads;
  const entries = [
    ...presets.flatMap((name, i) => (isPresetName(name) ? PRESETS[name].map((kind) => ({ at: `workloads.presets[${String(i)}] (${name})`, kind })) : [])),
    ...customKinds.map((kind, i) => ({ at: `workloads.customKinds[${String(i)}]`, kind })),
  ];
  const seen = new Map<string, string>();
  for (const { at, kind } of entries) {
    for (const key of [`kind ${kind.kind}`, `resource ${kind.resource}`]) {
      const id = `${kind.apiGroup} ${key}`;
      const earlier = seen.get(id);
      if (earlier !== undefined) throw new Problem(at, `${at} repeats ${key} of group ${kind.apiGroup}, already named by ${earlier}; keep one of them`);
      seen.set(id, at);
    }
  }
  const known = [...new Set<string>([...SUPPORTED_KINDS, ...entries.map((e) => e.kind.kind)])];
  if (!kindsGiven) return known;
  config.mutate.kinds.forEach((kind, i) => {
    if (!known.includes(kind)) {
      const path = `mutate.kinds[${String(i)}]`;
      throw new Problem(path, `${path} must be one of ${known.join(', ')}, or a kind added under workloads (got ${describe(kind)})`);
    }
  });
  return config.mutate.kinds;
}
