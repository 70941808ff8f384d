// /validate: judges every image of a request by the policy and denies, warns or only records.
import type { AuditImage } from '../audit/index.ts';
import type { Config } from '../config/index.ts';
import { validateImage } from '../policy/index.ts';
import { admitted, plural, type Decided } from './decided.ts';
import type { AdmissionRequest } from './review.ts';
import { gate, scopeFields, showImage } from './scope.ts';

/**
 * Decides a /validate request. An image that an UPDATE does not change is judged, but never
 * denied: the update is harmless to it, so a violation there is only warned about.
 */
export function validate(request: AdmissionRequest, config: Config): Decided {
  const gated = gate(request, config);
  if (gated?.admit === 'untouched') return admitted([], gated.warnings);
  const scoped = scopeFields(request, config);
  if (gated?.admit === 'excluded') {
    const { reason } = gated;
    return admitted(scoped.map((s) => ({ path: s.field.path, image: showImage(s.field.value), verdict: 'excluded', reason })));
  }

  const images: AuditImage[] = [];
  const offending: string[] = [];
  const grandfathered: string[] = [];
  for (const s of scoped) {
    const { verdict, reason } = validateImage(s.field.value, config);
    const image = showImage(s.field.value);
    const bad = verdict === 'violation' || verdict === 'invalid';
    const line = `${s.field.path} ${JSON.stringify(image)}: ${reason ?? verdict}`;
    if (bad && s.unchanged !== undefined) {
      grandfathered.push(line);
      images.push({ path: s.field.path, image, verdict, reason: `${reason ?? verdict} (${s.unchanged}; not denied)` });
    } else {
      if (bad) offending.push(line);
      images.push({ path: s.field.path, image, verdict, ...(reason === undefined ? {} : { reason }) });
    }
  }

  switch (config.validate.action) {
    case 'audit':
      return { decision: 'allowed', images, patch: [], warnings: [], notes: [] };
    case 'warn': {
      const warnings = [...offending, ...grandfathered];
      return { decision: warnings.length > 0 ? 'warned' : 'allowed', images, patch: [], warnings, notes: [] };
    }
    case 'deny': {
      const warnings = grandfathered.map((g) => `${g} (unchanged by this update)`);
      if (offending.length === 0) {
        return { decision: warnings.length > 0 ? 'warned' : 'allowed', images, patch: [], warnings, notes: [] };
      }
      return {
        decision: 'denied',
        images,
        patch: [],
        warnings,
        denial: `tagpin policy denies ${plural(offending.length, 'image')}: ${offending.join('; ')}`,
        notes: [],
      };
    }
  }
}
