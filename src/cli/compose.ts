// Finds the `services.*.image` values of a compose file.
import { basename } from 'node:path';
import { isRecord } from '../json/index.ts';
import { escapePointerToken } from '../workload/index.ts';

/** One service's image, or why it is not one to pin. */
export interface ComposeImage {
  readonly service: string;
  /** JSON Pointer of the value: `/services/NAME/image`. */
  readonly pointer: string;
  readonly value: unknown;
  /** Set when the value is not read as an image: a service that builds it, an interpolated value. */
  readonly skip?: string;
}

/** `compose.yaml`, `docker-compose.yml` and their overrides (`compose.override.yaml`, `docker-compose.prod.yml`). */
export function isComposeFileName(path: string): boolean {
  return /^(docker-)?compose(\.[^.]+)*\.ya?ml$/i.test(basename(path));
}

/** The images of a compose document: a mapping with `services` and no `kind`; undefined for anything else. */
export function composeImages(data: unknown): readonly ComposeImage[] | undefined {
  if (!isRecord(data) || 'kind' in data || !isRecord(data.services)) return undefined;
  const images: ComposeImage[] = [];
  for (const [service, spec] of Object.entries(data.services)) {
    if (!isRecord(spec) || !('image' in spec)) continue;
    const value = spec.image;
    const pointer = `/services/${escapePointerToken(service)}/image`;
    if (spec.build !== undefined) {
      images.push({ service, pointer, value, skip: 'builds its image (build:), so image: names what it builds' });
    } else if (typeof value === 'string' && value.includes('$')) {
      images.push({ service, pointer, value, skip: 'uses variable interpolation' });
    } else {
      images.push({ service, pointer, value });
    }
  }
  return images;
}
